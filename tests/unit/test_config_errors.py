"""Clean configuration failures: one line, exit status 2, nothing written (issue 13)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from pipeline.conftest import write_region  # tests/ is on sys.path (rootdir packages)
from socseq.cli import main
from socseq.pipeline.config import load_run_config, parse_run_config
from socseq.pipeline.landuse import read_class_table
from socseq.pipeline.run import phase_settings

HEADER = "code,name,dpm_rpm,npp_factor,paddy," + ",".join(f"cover_{m}" for m in range(1, 13))
ROW = "2,Croplands,1.44,0.53,0," + ",".join(["0.6"] * 12)


def _invoke(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    try:
        main(args)
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    err = capsys.readouterr().err
    return code, [line for line in err.splitlines() if line.strip()]


def _with_table(text: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        (root / "classes.csv").write_text(text, encoding="utf-8")
        _append(root, '[land_use]\ntable = "classes.csv"\n')

    return edit


def _append(root: Path, text: str) -> None:
    config = root / "run.toml"
    config.write_text(config.read_text().replace("[climate]\n", f"{text}[climate]\n", 1))


def _zones(text: str | None) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        if text is None:
            (root / "zones.csv").unlink()
        else:
            (root / "zones.csv").write_text(text, encoding="utf-8")

    return edit


def _not_utf8(root: Path) -> None:
    config = root / "run.toml"
    config.write_bytes(config.read_bytes().replace(b"synthetic", "synthétique".encode("latin-1")))


def _replace(old: str, new: str) -> Callable[[Path], None]:
    def edit(root: Path) -> None:
        config = root / "run.toml"
        text = config.read_text()
        assert old in text
        config.write_text(text.replace(old, new, 1))

    return edit


CASES: dict[str, tuple[Callable[[Path], None], tuple[str, ...]]] = {
    "config not UTF-8": (_not_utf8, ("run.toml", "is not UTF-8 text (byte 0xe9 on line 3)")),
    "empty class table": (_with_table(""), ("land_use.table", "classes.csv", "is empty")),
    "class table header only": (_with_table(HEADER + "\n"), ("has a header but no rows",)),
    "class table with text": (
        _with_table(HEADER + "\n" + ROW.replace("1.44", "high") + "\n"),
        ("classes.csv line 2, column 'dpm_rpm': expected a number, found 'high'",),
    ),
    "class table not CSV": (
        _with_table('code,name\n"2,Croplands\n'),
        ("land_use.table", "is not a readable CSV table"),
    ),
    "zone names missing": (_zones(None), ("inputs.zone_names", "zones.csv", "does not exist")),
    "zone names empty": (_zones(""), ("inputs.zone_names", "is empty")),
    "zone code not a number": (
        _zones("code,name\n1,West\nE,East\n"),
        ("zones.csv line 3, column 'code': expected a whole number, found 'E'",),
    ),
    "zone code repeated": (_zones("code,name\n1,West\n1,East\n"), ("code(s) 1 repeat",)),
    "zone name empty": (_zones("code,name\n1,West\n2,\n"), ("line 3, column 'name': is empty",)),
    "zone names lack a column": (_zones("zone,label\n1,West\n"), ("lacks column(s) code, name",)),
    "misspelt required key": (
        _replace('clay = { path = "clay.tif"', 'cly = { path = "clay.tif"'),
        ("[inputs.cly] unknown key, did you mean 'clay' (required)?",),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_configuration_is_one_line_and_writes_nothing(
    case: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    region = write_region(tmp_path / "r", ny=4, nx=5)
    edit, needles = CASES[case]
    edit(region.root)
    monkeypatch.chdir(tmp_path)  # relative paths must resolve against the config's folder
    out = tmp_path / "out"
    for command in ("validate", "run"):
        extra = ["--out", str(out)] if command == "run" else []
        code, lines = _invoke([command, str(region.config), "-q", *extra], capsys)
        assert code == 2, lines
        assert len(lines) == 1, lines
        assert lines[0].startswith("error: "), lines[0]
        for needle in needles:
            assert needle in lines[0], (needle, lines[0])
    assert not out.exists()


def test_every_configuration_error_is_listed_with_the_typo_first(tmp_path: Path) -> None:
    data = {
        "inputs": {"cly": {"path": "c.tif", "units": "%"}, "land_use": {"path": "l.tif"}},
        "climate": {
            "series": {
                "temperature": {"path": "t.nc"},
                "precipitation": {"path": "p.nc", "units": "mm"},
                "evaporation": {"path": "e.nc", "units": "mm"},
            }
        },
        "masks": {"max_snd_pct": 80},
        "model": {"spinup": "fast"},
    }
    with pytest.raises(Exception) as info:
        parse_run_config(data, source="configuration x.toml")
    message = str(info.value)
    assert "\n" not in message
    parts = message.removeprefix("configuration x.toml: ").split("; ")
    assert parts[0] == (
        "[inputs.cly] unknown key, did you mean 'clay' (required)? check its spelling against "
        "docs/configuration.md"
    )
    assert parts[1].startswith("[masks.max_snd_pct] unknown key, did you mean 'max_sand_pct'?")
    assert any(p.startswith("[model.spinup] Input should be 'exact'") for p in parts)
    assert parts[-1] == "[climate.series.temperature.units] is required"
    assert not any(p.startswith("[inputs.clay]") for p in parts)  # named with the typo


def test_masks_can_be_switched_off(tmp_path: Path) -> None:
    region = write_region(tmp_path / "r", ny=4, nx=5)
    _append(region.root, "[masks]\nmax_soc_t_ha = false\nmax_ec_dS_m = 2.5\n")
    config = load_run_config(region.config)
    assert config.masks.max_soc_t_ha is None
    assert config.masks.max_sand_pct == 90 and config.masks.max_ec_dS_m == 2.5
    region2 = write_region(tmp_path / "r2", ny=4, nx=5)
    _append(region2.root, "[masks]\nenabled = false\n")
    off = load_run_config(region2.config).masks
    assert (off.max_soc_t_ha, off.max_sand_pct, off.max_ec_dS_m) == (None, None, None)

    class Staged:  # what phase_settings reads from the staged inputs
        path = tmp_path
        n_warmup_years = 20
        has_yearly_land_use = False
        has_cover = False

    settings = phase_settings(load_run_config(region2.config), Staged(), tmp_path)  # type: ignore[arg-type]
    assert (settings.max_soc, settings.max_sand, settings.max_ec) == (None, None, None)


def test_a_mask_set_to_true_is_refused(tmp_path: Path) -> None:
    region = write_region(tmp_path / "r", ny=4, nx=5)
    _append(region.root, "[masks]\nmax_soc_t_ha = true\n")
    with pytest.raises(Exception, match=r"\[masks.max_soc_t_ha\] give a limit, or false"):
        load_run_config(region.config)


def test_the_class_table_path_is_relative_to_the_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    region = write_region(tmp_path / "r", ny=4, nx=5)
    (region.root / "tables").mkdir()
    (region.root / "tables" / "classes.csv").write_text(HEADER + "\n" + ROW + "\n")
    _append(region.root, '[land_use]\ntable = "tables/classes.csv"\n')
    monkeypatch.chdir(tmp_path)
    config = load_run_config(Path("r") / "run.toml")
    assert config.land_use.table == region.root / "tables" / "classes.csv"
    assert read_class_table(config.land_use.table).names == {2: "Croplands"}
    default = parse_run_config(
        {
            "inputs": {
                "soc": {"path": "s", "units": "t/ha"},
                "clay": {"path": "c", "units": "%"},
                "land_use": {"path": "l"},
            },
            "climate": {
                "series": {
                    k: {"path": k, "units": "mm"}
                    for k in ("temperature", "precipitation", "evaporation")
                }
            },
        }
    )
    assert default.land_use.table == "fao"
    assert default.resolve_paths(tmp_path).land_use.table == "fao"


def test_config_paths_share_one_resolver(tmp_path: Path) -> None:
    """Every Path in every section, [dsm] included, is resolved against the config folder."""
    from socseq._toml import resolve_paths

    config = load_run_config(write_region(tmp_path / "r", ny=4, nx=5).config)
    paths: list[Path] = []

    def walk(value: object) -> None:
        if isinstance(value, Path):
            paths.append(value)
        elif hasattr(type(value), "model_fields"):
            for name in type(value).model_fields:  # type: ignore[union-attr]
                walk(getattr(value, name))
        elif isinstance(value, tuple | list):
            for v in value:
                walk(v)

    walk(config)
    assert paths and all(p.is_absolute() for p in paths)
    assert resolve_paths(config, "/elsewhere") == config  # nothing relative is left
