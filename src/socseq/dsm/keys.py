"""Keys of what shapes the DSM's results, so that a result is reused only when they all hold.

- :func:`model_key`: the fitted model. ``socseq dsm predict`` reuses a saved model only when
  its key equals the current settings'.
- :func:`outputs_key`: every output of cross-validation, training and prediction. ``socseq
  run`` reuses the previous run's ``dsm/`` folder only when its key equals the current one.

Input files enter a key by their **content** (:func:`~socseq.outputs.file_digest`), not by
their size and modification time: a table edited in place keeps its size when one value
changes (12.5 → 13.5), and its time can be restored (``cp -p``, ``rsync -t``, ``os.utime``),
while a file rewritten with the same bytes should not force a new fit. Hashing reads each
file once per run: about 1 ms for the demo's inputs, 0.16 s per 200 MB on a 2-core machine,
far below a fit. A file's sidecars (its name with another suffix: a shapefile's ``.dbf``,
which holds the attributes, or a GeoTIFF's ``.aux.xml``) and the files of a folder input (a
Zarr store) enter with it.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from socseq import __version__
from socseq.dsm.config import DSMConfig
from socseq.io.grid import GridSpec
from socseq.outputs import file_digest

__all__ = ["KEY_PACKAGES", "input_digest", "model_key", "outputs_key", "software_versions"]

#: Packages whose version can change the DSM's numbers or files: the learners (scikit-learn,
#: quantile-forest), the arrays and statistics under them (numpy, scipy, pandas, which also
#: formats the CSV tables), the reading and resampling of the covariates and the writing of the
#: maps (rasterio with its GDAL, h5netcdf/h5py), the sample coordinates (pyproj with its PROJ)
#: and the pickled model (joblib).
KEY_PACKAGES = (
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "quantile-forest",
    "rasterio",
    "h5netcdf",
    "h5py",
    "pyproj",
    "joblib",
)


def _short(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _files(config: DSMConfig, *, model_only: bool) -> dict[str, Path]:
    """Return the input files by role; ``model_only``: those that shape the fitted model."""
    files = {"samples": config.samples.path}
    files.update({f"covariate {c.name}": c.path for c in config.covariates})
    if config.grid.template is not None:
        files["template"] = config.grid.template
    if not model_only:
        if config.test is not None:
            files["test samples"] = config.test.path
        if config.grid.mask is not None:
            files["mask"] = config.grid.mask
    return files


def _sidecars(path: Path) -> list[Path]:
    """Return the file and its sidecars: the files of its folder named ``<stem>.<anything>``.

    The stem ends at the last dot, so ``bio1.tif`` takes ``bio1.tif.aux.xml`` and ``bio1.tfw``
    but not ``bio12.tif``, and ``wc.bio1.tif`` not ``wc.bio12.tif``.
    """
    prefix = f"{path.stem}."
    found = (p for p in path.parent.iterdir() if p.name.startswith(prefix) and p.is_file())
    return sorted({path, *found})


def input_digest(path: str | os.PathLike[str]) -> str | None:
    """Return the digest of an input's content, with its sidecars; None when it cannot be read.

    A file enters with its sidecars, a folder (a Zarr store) with every file under it; the
    digest covers each file's name and bytes. A path that is not a local file or folder (a
    GDAL ``/vsi`` path) has no digest.
    """
    path = Path(path)
    try:
        if path.is_dir():
            members = sorted(p for p in path.rglob("*") if p.is_file())
            base = path
        elif path.is_file():
            members, base = _sidecars(path), path.parent
        else:
            return None
        text = json.dumps({p.relative_to(base).as_posix(): file_digest(p) for p in members})
    except OSError:
        return None
    return f"sha256:{hashlib.sha256(text.encode()).hexdigest()}"


def model_key(config: DSMConfig) -> str:
    """Return a short SHA-256 of everything that shapes the fitted model.

    A saved model is reused only when its key equals the current one. The key covers the
    sample settings, the stock computation, the covariates, the template grid, the model
    settings (not ``n_jobs``), the cross-validation folds the area of applicability uses and
    the AOA settings, plus the content of the sample, covariate and template files (so an
    edited sample table is not silently ignored, even with its size and time kept). The output
    settings and the prediction mask do not shape the model and are left out.
    """
    settings = config.model_dump(
        mode="json",
        include={"samples", "stocks", "covariates", "grid", "model", "cv", "aoa"},
        exclude={"model": {"n_jobs"}, "grid": {"mask"}, "cv": {"methods", "importance"}},
    )
    files = {str(path): input_digest(path) for path in _files(config, model_only=True).values()}
    return _short(json.dumps({"settings": settings, "files": files}, sort_keys=True))


def software_versions() -> dict[str, str]:
    """Versions of socseq, Python, :data:`KEY_PACKAGES`, GDAL and PROJ, by name."""
    import pyproj
    import rasterio

    versions = {"socseq": __version__, "python": platform.python_version()}
    for name in KEY_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = "absent"
    versions["GDAL"] = rasterio.__gdal_version__
    versions["PROJ"] = pyproj.proj_version_str
    return versions


def _grid_digest(grid: GridSpec) -> str:
    return _short(
        json.dumps([grid.crs.to_wkt(), list(grid.transform)[:6], grid.width, grid.height])
    )


def outputs_key(config: DSMConfig, grid: GridSpec | None) -> tuple[str | None, dict[str, str]]:
    """Return the key of every DSM output, and its parts (what it covers, one digest each).

    The parts are the whole ``[dsm]`` settings (:meth:`DSMConfig.digest`: samples, stocks,
    covariates, grid, model with its seed and ``n_jobs``, cross-validation, AOA, test set and
    output settings, as they appear in the outputs' provenance), the grid the DSM maps on
    (``grid``; None: the template's or first covariate's, covered by that file), the
    :func:`software_versions`, and the content (:func:`input_digest`) of the samples, each
    covariate, the template, the mask and the test samples.

    Returns
    -------
    key : str or None
        A short SHA-256 of the parts; None when an input file cannot be read, so nothing can
        be proven about it.
    parts : dict of str
        Part name → digest (``"unreadable"`` for an input that cannot be read); a run records
        them, so that the next one can name what changed.
    """
    parts = {
        "settings": config.digest(),
        "grid": "template or first covariate" if grid is None else _grid_digest(grid),
        "software": _short(json.dumps(software_versions(), sort_keys=True)),
    }
    readable = True
    for role, path in _files(config, model_only=False).items():
        digest = input_digest(path)
        readable &= digest is not None
        parts[role] = digest or "unreadable"
    key = _short(json.dumps(parts, sort_keys=True)) if readable else None
    return key, parts
