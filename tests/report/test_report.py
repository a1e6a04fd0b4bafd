from __future__ import annotations

import base64
import json
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from socseq.cli.report import report
from socseq.exceptions import RunFolderError, SocseqError
from socseq.report import build_report, read_run_folder
from socseq.report.figures import diverging_style, sequential_style
from socseq.report.run_folder import MapLayer

from .conftest import make_run_folder

FULL_FIGURES = sorted(
    [
        "dsm_observed_vs_predicted.png",
        "dsm_soc_mean.png",
        "dsm_soc_q05.png",
        "dsm_soc_q95.png",
        "dsm_soc_sd.png",
        "dsm_aoa.png",
        "dsm_importance.png",
        "soc_t0.png",
        "asr_BAU.png",
        "asr_SSM1.png",
        "asr_SSM2.png",
        "asr_SSM3.png",
        "rsr_SSM1.png",
        "rsr_SSM2.png",
        "rsr_SSM3.png",
        "4p1000_BAU.png",
        "4p1000_SSM1.png",
        "4p1000_SSM2.png",
        "4p1000_SSM3.png",
        "soc_timeseries.png",
    ]
)


def _images(html: str) -> list[str]:
    return re.findall(r'<img src="([^"]+)"', html)


def test_report_is_one_self_contained_file_with_every_figure(run_folder: Path) -> None:
    path = build_report(run_folder)
    assert path == run_folder / "report.html"
    html = path.read_text(encoding="utf-8")
    figures = sorted(p.name for p in (run_folder / "figures").iterdir())
    assert figures == FULL_FIGURES
    images = _images(html)
    assert len(images) == len(FULL_FIGURES)
    assert all(src.startswith("data:image/png;base64,") for src in images)
    # The embedded images are the PNG files, byte for byte.
    embedded = {base64.b64decode(src.split(",", 1)[1]) for src in images}
    assert embedded == {(run_folder / "figures" / name).read_bytes() for name in figures}
    # Nothing is fetched: no external URL, stylesheet or script.
    assert not re.search(r'(src|href)="(https?:)?//', html)
    assert '<link rel="stylesheet"' not in html and "<script src" not in html
    # The only scripts are the interactive map's data block and its inline code, which loads
    # nothing either.
    assert re.findall(r"<script[^>]*>", html) == [
        '<script type="application/json" id="im-data">',
        "<script>",
    ]
    code = html.split("<script>", 1)[1].split("</script>", 1)[0]
    for call in ("fetch(", "XMLHttpRequest", "import(", "http:", "https:"):
        assert call not in code, call
    assert "<style>" in html


def test_report_content(run_folder: Path) -> None:
    html = build_report(run_folder).read_text(encoding="utf-8")
    # The run name is escaped, not injected.
    assert "Fake island &lt;test&gt; &amp; co" in html and "<test>" not in html
    for text in (
        "0123456789abcdef",
        "0.1.0.dev0",
        "2026-11-29T04:44:06+00:00",
        "exact",
        "carbon fraction of dry matter",
        "paddy (excluded by configuration)",
        "/data/clay_pct.tif",
        "climate is synthetic (demo region)",
        "spatial-block cross-validation",
        "How to read this",
        "4 per 1000",
        "<h3>North</h3>",
        "<h3>South</h3>",
        "SSM3",
        "PICP90",
    ):
        assert text in html, text
    run = read_run_folder(run_folder)
    row = run.summary[(run.summary["zone"] == "all") & (run.summary["scenario"] == "SSM2")]
    # Three significant figures, rounded by Python's own "g" format.
    asr, share = row["mean_asr_t_ha_yr"].iloc[0], row["share_4p1000_pct"].iloc[0]
    total = row["total_asr_t_yr"].iloc[0]
    assert f">{float(f'{asr:.3g}')}<" in html
    assert f">{float(f'{share:.3g}'):g}<" in html
    assert f">{float(f'{total:.3g}'):,.0f}<" in html
    # Each share stands beside its denominator: the simulated cropland area.
    crop = row["simulated_cropland_area_ha"].iloc[0]
    rows = [
        re.findall(r'<td class="num">([^<]*)</td>', r)
        for r in re.findall(r"<tr><td>SSM2</td>(.*?)</tr>", html)
    ]
    values = next(r for r in rows if len(r) == 11)  # the domain summary (then the zones)
    assert values[-3] == f"{crop:,.0f}" and values[-1] == f"{float(f'{share:.3g}'):g}"
    assert "What BAU means at T0" in html and "mean</em> climate of the warm-up" in html


def test_optional_parts_are_left_out(tmp_path: Path) -> None:
    folder = make_run_folder(tmp_path / "run", dsm=False, zones=False, notes=())
    (folder / "timeseries.csv").unlink()
    (folder / "exclusions.csv").unlink()
    html = build_report(folder).read_text(encoding="utf-8")
    figures = sorted(p.name for p in (folder / "figures").iterdir())
    assert figures == [
        f for f in FULL_FIGURES if not f.startswith("dsm_") and f != "soc_timeseries.png"
    ]
    assert 'id="dsm"' not in html and 'id="zones"' not in html and 'id="notes"' not in html
    assert 'id="series"' not in html
    # Cell counts fall back on run.json.
    assert "paddy (excluded by configuration)" in html


def test_maps_come_from_the_cube_when_geotiffs_are_off(tmp_path: Path) -> None:
    with_tifs = read_run_folder(make_run_folder(tmp_path / "a"))
    cube_only = read_run_folder(make_run_folder(tmp_path / "b", geotiff=False, dsm=False))
    for kind, scenario in (("T0", None), ("ASR", "SSM1"), ("RSR", "SSM3"), ("4p1000", "SSM2")):
        a, b = with_tifs.product(kind, scenario), cube_only.product(kind, scenario)
        assert b.source == "soc_stocks.nc"
        assert a.extent == pytest.approx(b.extent)
        np.testing.assert_array_equal(np.isnan(a.values), np.isnan(b.values))
        np.testing.assert_allclose(a.values, b.values, rtol=1e-5, atol=1e-5, equal_nan=True)
    assert build_report(cube_only.path).is_file()


def test_nodata_and_flags_are_read_from_the_files(run_folder: Path) -> None:
    run = read_run_folder(run_folder)
    flag = run.product("4p1000", "SSM3")
    assert set(np.unique(flag.values[np.isfinite(flag.values)])) <= {0.0, 1.0}
    assert np.isnan(flag.values).sum() > 0  # 255 = not simulated
    mean = run.dsm_map("soc_mean_t_ha")
    assert mean is not None and np.nanmin(mean.values) > 0  # -999 became NaN
    assert run.land is not None and run.land.sum() > np.isfinite(run.product("T0").values).sum()


def test_scales_diverge_around_zero_and_start_stocks_at_data() -> None:
    layer = MapLayer(np.array([[-0.1, 0.5], [np.nan, 0.2]]), (0, 2, 0, 2), None, "x")
    norm = diverging_style([layer], "ASR (t C/ha/yr)").norm
    assert norm.vmin == pytest.approx(-norm.vmax) and norm.vmax > 0
    rsr = sequential_style([layer], "RSR", from_zero=True).norm
    assert rsr.vmin <= -0.09


def test_rebuild_replaces_the_figures_folder(run_folder: Path) -> None:
    (run_folder / "figures").mkdir()
    (run_folder / "figures" / "asr_OLD.png").write_bytes(b"stale")
    build_report(run_folder)
    assert not (run_folder / "figures" / "asr_OLD.png").exists()
    assert not [p for p in run_folder.iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize(
    ("remove", "named"),
    [
        ("run.json", "run.json"),
        ("summary.csv", "summary.csv"),
    ],
)
def test_missing_required_file_is_named(run_folder: Path, remove: str, named: str) -> None:
    (run_folder / remove).unlink()
    with pytest.raises(RunFolderError, match=named) as info:
        build_report(run_folder)
    assert isinstance(info.value, SocseqError)
    assert "\n" not in str(info.value) and "socseq run" in str(info.value)
    assert not (run_folder / "report.html").exists()


def test_missing_maps_without_cube_is_named(tmp_path: Path) -> None:
    folder = make_run_folder(tmp_path / "run", geotiff=False, netcdf=False)
    with pytest.raises(RunFolderError, match=r"XTW_GSOCseq_T0_Map030\.tif: is missing"):
        build_report(folder)


def test_broken_manifest_and_not_a_folder(tmp_path: Path, run_folder: Path) -> None:
    (run_folder / "run.json").write_text("{not json")
    with pytest.raises(RunFolderError, match="run.json: is not valid JSON"):
        build_report(run_folder)
    with pytest.raises(RunFolderError, match="is not a folder"):
        build_report(tmp_path / "nowhere")
    (run_folder / "run.json").write_text(json.dumps({"iso": "XTW"}))
    with pytest.raises(RunFolderError, match="no 'scenarios' entry"):
        build_report(run_folder)


def test_cli_prints_the_report_path(run_folder: Path) -> None:
    result = CliRunner().invoke(report, [str(run_folder)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(run_folder / "report.html")
    assert (run_folder / "report.html").is_file()


def test_cli_error_is_one_socseq_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(report, [str(tmp_path)])
    assert isinstance(result.exception, RunFolderError)
    assert "run.json: is missing" in str(result.exception)


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (-2.6e-16, "rate", "0"),  # round-off of a steady run is no change
        (-0.0, "total", "0"),
        (-0.4, "total", "0"),  # rounds to zero: no "-0"
        (-0.040066494, "rate", "-0.0401"),
        (136293.99, "total", "136,000"),
        (84.449609, "share", "84.4"),
        (0.0845129, "share", "0.085"),
        (473300.0, "area", "473,300"),
        (float("nan"), "rate", "–"),
        (None, "rate", "–"),
    ],
)
def test_numbers_read_as_significant_figures(value, kind, text) -> None:
    from socseq.report.numbers import fmt_number

    assert fmt_number(value, kind) == text


def test_the_report_of_a_steady_run_shows_no_round_off(tmp_path: Path) -> None:
    folder = make_run_folder(tmp_path / "run")
    table = pd.read_csv(folder / "summary.csv")
    base = table["scenario"] == "BAU"
    table.loc[base, "mean_asr_t_ha_yr"] = -2.6e-16
    table.loc[base, "total_asr_t_yr"] = -1.4e-13
    table.to_csv(folder / "summary.csv", index=False)
    html = build_report(folder).read_text(encoding="utf-8")
    assert "e-16" not in html and "e-13" not in html and ">-0<" not in html
    figures = (folder / "figures" / "asr_BAU.png").read_bytes()
    assert figures  # the map note is formatted the same way (checked by eye in the PNG)


def test_4p1000_maps_show_the_cropland_and_say_so(run_folder: Path) -> None:
    html = build_report(run_folder).read_text(encoding="utf-8")
    assert "on the simulated cropland" not in html or "of simulated cropland" in html
    run = read_run_folder(run_folder)
    assert run.cropland is not None
    # Grassland cells are simulated but not cropland: the map shows them as a third class.
    from socseq.report.html import _cropland_flags

    layer, known = _cropland_flags(run, run.product("4p1000", "SSM3"))
    assert known
    grass = run.product("T0").values
    other = np.isfinite(grass) & ~run.cropland
    assert other.any() and np.all(layer.values[other] == 2)
    assert np.all(np.isin(layer.values[np.isfinite(grass) & run.cropland], [0, 1]))


def test_maps_name_the_crs_and_hatch_the_land_not_simulated(run_folder: Path) -> None:
    from matplotlib.collections import PathCollection

    from socseq.report.figures import LAND_GREY, diverging_style, plot_map

    run = read_run_folder(run_folder)
    layer = run.product("ASR", "BAU")
    fig = plot_map(layer, diverging_style([layer], "ASR"), "ASR", land=run.land)
    ax = fig.axes[0]
    assert "TWD97 / TM2 zone 121 (EPSG:3826)" in ax.get_xlabel()
    hatched = [c for c in ax.collections if isinstance(c, PathCollection) and c.get_hatch()]
    assert hatched and tuple(hatched[0].get_facecolor()[0]) == pytest.approx(LAND_GREY)
    # The neutral middle of the diverging scale is far from the grey of land not simulated.
    style = diverging_style([layer], "ASR")
    middle = np.array(style.cmap(0.5)[:3])
    assert np.abs(middle - np.array(LAND_GREY[:3])).max() > 0.15


def test_each_map_and_the_cube_are_read_once(
    run_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The figures, their shared colour scales and the interactive map all ask for the same
    # products; opening the cube costs as much as reading its small 2-D fields.
    import xarray as xr

    import socseq.report.run_folder as module

    reads: list[str] = []
    read_geotiff, open_dataset = module.read_geotiff, xr.open_dataset

    def counted_read(path: Path, root: Path) -> MapLayer:
        reads.append(path.name)
        return read_geotiff(path, root)

    def counted_open(path: Any, **kwargs: Any) -> Any:
        reads.append(Path(path).name)
        return open_dataset(path, **kwargs)

    monkeypatch.setattr(module, "read_geotiff", counted_read)
    monkeypatch.setattr(module.xr, "open_dataset", counted_open)
    build_report(run_folder)
    assert reads and len(reads) == len(set(reads))
    assert reads.count("soc_stocks.nc") == 1
