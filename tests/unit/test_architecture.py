"""The layers of the package, checked: imports go downward only (docs/architecture.md).

- No module imports a module of a higher layer, lazily or under ``TYPE_CHECKING`` included.
- The model layer (``socseq.rothc``) imports no raster I/O, and ``socseq rothc`` never loads
  xarray, dask, scikit-learn or matplotlib (checked in a fresh interpreter); ``socseq
  validate`` never loads scikit-learn, quantile-forest, joblib, numba or zarr, even with a
  ``[dsm]`` section.
- Exceptions and warnings are defined in ``socseq.exceptions`` only.
- The package cites no file outside the repository, and every ``docs/*.md`` it cites exists.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "src" / "socseq"

#: Top-level parts of socseq and their layer: a module may import its own package and lower
#: layers only; packages that share a layer do not import each other. The order is that of
#: DESIGN.md and docs/architecture.md. ``fetch`` (downloads and prepares the inputs of a run,
#: writes a configuration) sits beside report and demo, above the pipeline whose configuration
#: and class tables it may use; ``climate`` (normals, PET, series patterns read through io) sits
#: below the pipeline, beside dsm.
LAYERS: dict[str, int] = {
    "cli": 6,
    "report": 5,
    "demo": 5,
    "fetch": 5,
    "pipeline": 4,
    "dsm": 3,
    "climate": 3,
    "io": 2,
    "rothc": 1,
    # leaves everyone may import
    "": 0,  # socseq/__init__.py: __version__
    "exceptions": 0,
    "progress": 0,
    "atomic": 0,
    "_heap": 0,
    "outputs": 0,
    "_toml": 0,
    "data": 0,
}

#: Third-party packages of raster and tabular-geodata I/O and of the heavy stack, which the model
#: layer must not import.
NOT_IN_THE_MODEL = {
    "xarray",
    "rioxarray",
    "rasterio",
    "dask",
    "distributed",
    "zarr",
    "h5netcdf",
    "netCDF4",
    "geopandas",
    "pyogrio",
    "pyproj",
    "affine",
    "sklearn",
    "quantile_forest",
    "matplotlib",
    "jinja2",
    "rich",
    "click",
}


def _modules() -> list[tuple[str, Path]]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found.append((".".join(parts), path))
    return found


def _imports(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, imported module) of every import statement, at any depth of the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            out.append((node.lineno, name))
            # ``from socseq import rothc`` imports the sub-package socseq.rothc
            if name == "socseq":
                out += [(node.lineno, f"socseq.{a.name}") for a in node.names]
    return out


def _part(module: str) -> str:
    """Top-level part of a socseq module name ('' for the root package)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_part_of_the_package_has_a_layer() -> None:
    parts = {_part(m) for m, _ in _modules()}
    unknown = sorted(parts - set(LAYERS))
    assert not unknown, (
        f"socseq.{unknown[0]} has no layer: add it to LAYERS here and to docs/architecture.md"
    )


def test_no_module_imports_a_higher_layer() -> None:
    violations = []
    for module, path in _modules():
        own = _part(module)
        for line, name in _imports(path, module):
            if name != "socseq" and not name.startswith("socseq."):
                continue
            target = _part(name)
            if target == own or target not in LAYERS or own not in LAYERS:
                continue
            lower = LAYERS[target] < LAYERS[own] or LAYERS[target] == LAYERS[own] == 0
            if not lower:
                where = path.relative_to(REPO)
                violations.append(
                    f"{where}:{line}: {module} (layer {own or 'socseq'}, {LAYERS[own]}) imports "
                    f"{name} (layer {target}, {LAYERS[target]})"
                )
    assert not violations, "imports that go up or sideways:\n" + "\n".join(violations)


def test_the_model_layer_imports_no_raster_io() -> None:
    found = []
    for module, path in _modules():
        if _part(module) != "rothc":
            continue
        for line, name in _imports(path, module):
            top = name.split(".")[0]
            if top in NOT_IN_THE_MODEL or (
                name.startswith("socseq.") and LAYERS.get(_part(name), 0) > LAYERS["rothc"]
            ):
                found.append(f"{path.relative_to(REPO)}:{line}: imports {name}")
    assert not found, "\n".join(found)


def _loaded_by_command(args: list[str], modules: list[str]) -> list[str]:
    """Run ``socseq ARGS`` in a fresh interpreter; return which of ``modules`` it imported."""
    script = (
        "import json, sys\n"
        "from socseq.cli import main\n"
        "try:\n"
        f"    main({args!r})\n"
        "except SystemExit as exc:\n"
        "    assert not exc.code, exc.code\n"
        f"print(json.dumps(sorted(m for m in {modules!r} if m in sys.modules)))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "COLUMNS": "100"},
        check=False,
    )
    assert done.returncode == 0, done.stderr
    loaded: list[str] = json.loads(done.stdout.strip().splitlines()[-1])
    return loaded


def test_rothc_command_never_loads_the_geospatial_and_learning_stack(tmp_path: Path) -> None:
    heavy = ["xarray", "dask", "sklearn", "matplotlib", "rasterio", "rioxarray", "zarr"]
    loaded = _loaded_by_command(["rothc", "--example", "--out", str(tmp_path / "out")], heavy)
    assert (tmp_path / "out" / "month_results.csv").exists()
    assert loaded == [], f"socseq rothc imported {loaded}"


def test_validate_with_a_dsm_section_never_loads_the_learning_stack_or_the_engine(
    tmp_path: Path,
) -> None:
    # validate reads the [dsm] samples and covariates but fits nothing and runs no phase: the
    # learning stack (over a second of imports) and the phase engine and its scratch stores
    # (numba, zarr: a few tenths of a second) are for socseq dsm and socseq run only.
    from socseq.demo import build_region

    config = build_region(tmp_path / "region")
    assert "[dsm." in config.read_text(encoding="utf-8")
    heavy = ["sklearn", "quantile_forest", "joblib", "numba", "zarr"]
    loaded = _loaded_by_command(["validate", str(config), "-q"], heavy)
    assert loaded == [], f"socseq validate imported {loaded}"


def _is_exception_class(node: ast.ClassDef) -> bool:
    for base in node.bases:
        name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
        if name.endswith(("Error", "Exception", "Warning")):
            return True
    return False


def test_exceptions_are_defined_in_socseq_exceptions_only() -> None:
    elsewhere = []
    for module, path in _modules():
        if module == "socseq.exceptions":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and _is_exception_class(node):
                elsewhere.append(f"{path.relative_to(REPO)}:{node.lineno}: class {node.name}")
    assert not elsewhere, "define these in socseq/exceptions.py:\n" + "\n".join(elsewhere)


@pytest.mark.parametrize("suffix", ["*.py", "*.j2", "*.toml"])
def test_the_package_cites_only_files_of_the_repository(suffix: str) -> None:
    cited_docs = set()
    for path in sorted(PACKAGE.rglob(suffix)):
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text, f"{path.relative_to(REPO)} cites a file outside the repo"
        cited_docs |= set(re.findall(r"docs/[\w./-]+?\.md", text))
    missing = sorted(d for d in cited_docs if not (REPO / d).exists())
    assert not missing, f"cited but absent: {missing}"


#: Files over the limit whose owners are rewriting them (issue 11): each must leave this list
#: by being split or by stating its reason; the test fails if one here is already short.
LONG_PENDING: set[str] = set()
MAX_LINES = 500


def test_long_modules_state_why_at_their_top() -> None:
    unexplained, short = [], []
    for folder in ("src", "examples", "benchmarks"):
        for path in sorted((REPO / folder).rglob("*.py")):
            rel = path.relative_to(REPO).as_posix()
            lines = path.read_text(encoding="utf-8").splitlines()
            if len(lines) <= MAX_LINES:
                if rel in LONG_PENDING:
                    short.append(rel)
                continue
            head = "\n".join(lines[:150])  # the comment follows the module docstring
            if "# Long module:" not in head and rel not in LONG_PENDING:
                unexplained.append(f"{rel}: {len(lines)} lines")
    assert not unexplained, (
        f"over {MAX_LINES} lines without '# Long module: <why>' near the top; split them or "
        "say why:\n" + "\n".join(unexplained)
    )
    assert not short, f"no longer long, remove from LONG_PENDING: {short}"
