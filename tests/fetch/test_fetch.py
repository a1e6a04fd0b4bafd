"""socseq fetch through every source against the loopback provider server."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import rasterio
import xarray as xr

from socseq.fetch import HttpOptions, OfflineError, fetch, plan_fetch

from .providers import BOX, YEARS


def _fetch(tmp_path: Path, base_urls, fast, **kw):
    kw.setdefault("cache_dir", tmp_path / "cache")
    kw.setdefault("years", YEARS)
    return fetch(
        BOX, out=tmp_path / "out", base_urls=base_urls, options=fast, sleep=lambda s: None, **kw
    )


def test_fetch_writes_aligned_unit_labelled_layers(server, tmp_path, base_urls, fast) -> None:
    result = _fetch(tmp_path, base_urls, fast)
    out = result.out
    # Static layers: one 30" grid aligned to multiples of the cell, covering the box.
    profiles = {}
    for key in ("soc", "clay", "land_use"):
        with rasterio.open(result.outputs[key]) as src:
            profiles[key] = (src.crs.to_epsg(), src.transform, src.shape)
            data = src.read(1, masked=True)
            tags = src.tags()
        if key == "clay":
            # 200/250/300 g/kg (+ row pattern) weighted 5:10:15 over 30 cm, / 10 -> %.
            assert tags["units"] == "%" and 25 <= float(data.mean()) <= 33
        if key == "soc":
            assert tags["units"] == "t/ha" and 44 <= float(data.mean()) <= 58
        if key == "land_use":
            values = set(np.unique(data.compressed()).tolist())
            assert {2, 3, 4} <= values <= {2, 3, 4, 11}  # WorldCover 40/30/10/80 -> FAO
    assert len(set(profiles.values())) == 1
    epsg, transform, shape = profiles["soc"]
    assert epsg == 4326 and transform.a == pytest.approx(1 / 120)
    assert transform.c == pytest.approx(21.0) and transform.f == pytest.approx(41.3)
    assert shape == (36, 60)
    # Climate: TerraClimate packed tmax/tmin decoded once, tas = (tmax + tmin)/2, 48 months.
    tas = xr.open_dataset(result.outputs["series:tas"])["tas"]
    assert tas.attrs["units"] == "degC" and tas.sizes["time"] == 48
    assert float(tas.max()) < 35 and float(tas.min()) > -10
    pr = xr.open_dataset(result.outputs["series:pr"])["pr"]
    assert pr.attrs["units"] == "mm" and 30 <= float(pr.mean()) <= 90
    # Sea tile N39E018 (west of 21 E, in the margin) answered 404: recorded, not an error.
    assert result.missing == ["worldcover N39E018"]
    record = json.loads((out / "sources.json").read_text())
    assert set(record["sources"]) == {
        "terraclimate",
        "soilgrids-clay",
        "soilgrids-soc",
        "worldcover",
    }
    assert all(s["licence"] and s["citation"] for s in record["sources"].values())
    assert (out / "landcover" / "worldcover_to_fao.csv").exists()


def test_configuration_skeleton_validates(server, tmp_path, base_urls, fast) -> None:
    from socseq.pipeline.config import load_run_config
    from socseq.pipeline.run import validate_config

    result = _fetch(tmp_path, base_urls, fast, iso="MKD")
    text = result.config.read_text()
    assert "spinup = [1999, 2000]" in text and "warmup = [2001, 2002]" in text
    config = load_run_config(result.config)
    summary = validate_config(config)
    assert summary["candidate_cells"] > 1000


def test_cache_hits_make_no_request(server, tmp_path, base_urls, fast) -> None:
    _fetch(tmp_path, base_urls, fast)
    before = len(server.requests)
    again = _fetch(tmp_path, base_urls, fast)
    assert len(server.requests) == before
    assert again.fetched == [] and len(again.cache_hits) >= 8
    # Offline with everything cached still works; another box is a cache miss -> one line.
    offline = HttpOptions(offline=True)
    fetch(
        BOX,
        years=YEARS,
        out=tmp_path / "out2",
        base_urls=base_urls,
        options=offline,
        cache_dir=tmp_path / "cache",
    )
    with pytest.raises(OfflineError, match="--offline given"):
        fetch(
            (21.0, 41.0, 21.4, 41.3),
            years=YEARS,
            out=tmp_path / "out3",
            base_urls=base_urls,
            options=offline,
            cache_dir=tmp_path / "cache",
        )


def test_network_down_uses_the_cache(server, tmp_path, base_urls, fast) -> None:
    import socket

    _fetch(tmp_path, base_urls, fast)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{s.getsockname()[1]}"
    down = {name: dead for name in base_urls}
    # Every file is cached: no connection is attempted, the fetch succeeds.
    result = _fetch(tmp_path, down, fast)
    assert result.fetched == []
    with pytest.raises(OfflineError, match=r"cannot reach 127\.0\.0\.1"):
        _fetch(tmp_path, down, fast, years=(2003, 2004))


def test_dry_run_lists_files_and_sizes_without_fetching(
    server, tmp_path, base_urls, fast, sources_file
) -> None:
    plan = plan_fetch(
        BOX,
        years=YEARS,
        out=tmp_path / "out",
        base_urls=base_urls,
        cache_dir=tmp_path / "cache",
        options=fast,
        sizes=True,
        sources=["terraclimate", "worldclim", "soilgrids-clay", "worldcover"],
        sources_file=sources_file,
    )
    rows = plan.rows()
    # Nothing but HEAD requests for the whole-file downloads.
    assert {m for m, _, _ in server.requests} == {"HEAD"}
    assert {r["source"] for r in rows} == {
        "terraclimate",
        "worldclim",
        "soilgrids-clay",
        "worldcover",
    }
    assert all(not r["cached"] and r["size_bytes"] for r in rows)
    zips = {r["url"].rsplit("/", 1)[1]: r for r in rows if r["source"] == "worldclim"}
    body = server.files["/climate/worldclim/2_1/base/wc2.1_10m_prec.zip"]
    assert zips["wc2.1_10m_prec.zip"]["size_bytes"] == len(body)
    assert zips["wc2.1_10m_prec.zip"]["size_exact"]
    # TerraClimate: 4 variables x 1 block of 4 years; SoilGrids: 3 depths.
    assert sum(r["source"] == "terraclimate" for r in rows) == 4
    assert sum(r["source"] == "soilgrids-clay" for r in rows) == 3


def test_dry_run_cli(server, tmp_path, base_urls) -> None:
    from click.testing import CliRunner

    from socseq.cli import cli

    args = [
        "fetch",
        "--bbox",
        ",".join(map(str, BOX)),
        "--years",
        "1999-2002",
        "--dry-run",
        "--out",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--timeout",
        "2",
    ]
    for name, url in base_urls.items():
        args += ["--base-url", f"{name}={url}"]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "terraclimate" in result.output and "to fetch" in result.output
    assert server.count("/thredds/") == 0


def test_worldclim_normals_pattern_and_series_with_pet(
    server, tmp_path, base_urls, fast, sources_file
) -> None:
    result = _fetch(
        tmp_path,
        base_urls,
        fast,
        sources_file=sources_file,
        sources=["worldclim", "soilgrids-clay", "soilgrids-soc", "worldcover"],
    )
    pattern = result.outputs["normals:prec"]
    assert pattern.name == "wc2.1_10m_prec_{month:02d}.tif"
    from socseq.io.series import open_monthly_pattern

    prec = open_monthly_pattern(pattern, name="prec")
    assert prec.sizes["time"] == 12
    # Without TerraClimate the skeleton takes the normals as they are ([climate.normals],
    # per-month patterns, no evaporation: the run computes PET by Hargreaves from the
    # fetched tmin/tmax), and the run says that BAU is then about 0 by construction.
    from socseq.pipeline.config import load_run_config
    from socseq.pipeline.run import run_pipeline, validate_config

    text = result.config.read_text()
    assert "[climate.normals]" in text and "[climate.series]" not in text
    assert 'precipitation = { pattern = "climate/worldclim/wc2.1_10m_prec_{month:02d}.tif"' in text
    config = load_run_config(result.config)
    assert config.climate.computed_pet == "hargreaves"
    validate_config(config)
    run = run_pipeline(config, output_dir=tmp_path / "run")
    assert run.manifest["method"]["pet"].startswith("computed: Hargreaves")
    assert any("BAU is about 0 by construction" in note for note in run.manifest["notes"])
    assert {s["name"] for s in run.manifest["sources"]} == {
        "worldclim",
        "soilgrids-clay",
        "soilgrids-soc",
        "worldcover",
    }


def test_http_errors_and_corrupt_responses(server, tmp_path, base_urls, fast) -> None:
    from socseq.fetch import DownloadError, SourceFormatError

    path = "/thredds/ncss/agg_terraclimate_ppt_1958_CurrentYear_GLOBE.nc"
    server.fault(path, "corrupt")
    with pytest.raises(SourceFormatError, match=r"not NetCDF \(the server sent an error page\)"):
        _fetch(tmp_path, base_urls, fast, sources=["terraclimate"])
    # SoilGrids VRT missing -> one line naming the URL.
    server.files.pop("/soilgrids/latest/data/ocs/ocs_0-30cm_mean.vrt")
    with pytest.raises(DownloadError, match=r"ocs_0-30cm_mean\.vrt: HTTP 404"):
        _fetch(tmp_path, base_urls, fast, sources=["soilgrids-soc"])


def test_window_read_retries_after_server_error(server, tmp_path, base_urls, fast) -> None:
    vrt = "/soilgrids/latest/data/ocs/ocs_0-30cm_mean.vrt"
    server.fault(vrt, "500", times=1)
    result = _fetch(tmp_path, base_urls, fast, sources=["soilgrids-soc"])
    assert "soc" in result.outputs
    assert sum(1 for _, p, _ in server.requests if p == vrt) >= 2
    # A partial selection still writes the skeleton, marked incomplete.
    assert set(result.incomplete) == {"clay", "land_use", "climate"}
    assert "INCOMPLETE" in result.config.read_text()


def test_years_before_the_record_are_refused(server, tmp_path, base_urls, fast) -> None:
    from socseq.exceptions import ConfigError

    with pytest.raises(ConfigError, match="starts in 1958"):
        _fetch(tmp_path, base_urls, fast, years=(1950, 1960), sources=["terraclimate"])


def _cli_args(base_urls, tmp_path: Path) -> list[str]:
    args = [
        "fetch",
        "--bbox",
        ",".join(map(str, BOX)),
        "--years",
        "1999-2002",
        "--out",
        str(tmp_path / "out"),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--timeout",
        "2",
        "--retries",
        "1",
        "-q",
    ]
    for name, url in base_urls.items():
        args += ["--base-url", f"{name}={url}"]
    return args


def test_cli_fetch_then_run(server, tmp_path, base_urls, capsys) -> None:
    from socseq.cli import main

    main(_cli_args(base_urls, tmp_path))
    out = capsys.readouterr().out
    assert "wrote" in out and "socseq validate" in out
    config = tmp_path / "out" / "socseq.toml"
    main(["run", str(config), "-q"])
    assert (tmp_path / "out" / "socseq-out" / "summary.csv").exists()
    # The report cites every source the run's inputs came from, with its licence.
    report = (tmp_path / "out" / "socseq-out" / "report.html").read_text()
    record = json.loads((tmp_path / "out" / "sources.json").read_text())
    for source in record["sources"].values():
        assert source["citation"] in report and source["licence"] in report


def test_cli_error_is_one_line_with_status_2(server, tmp_path, base_urls, capsys) -> None:
    from socseq.cli import main

    server.files.pop("/soilgrids/latest/data/clay/clay_5-15cm_mean.vrt")
    with pytest.raises(SystemExit) as info:
        main(_cli_args(base_urls, tmp_path) + ["--source", "soilgrids-clay"])
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: ")
    assert "clay_5-15cm_mean.vrt" in err and "HTTP 404" in err
