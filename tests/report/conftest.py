"""A realistic fake run folder, as `socseq run` publishes it, for the report tests.

40 × 30 cells of 1 km in EPSG:3826 (TWD97 / TM2), an elliptic "island" of land with NaN
outside, cropland on part of it and a few simulated grassland cells; four GSOCseq scenarios
whose final stocks follow the input multipliers (so RSR is 1 : 2 : 4; SSM3 reaches 4 per 1000
everywhere, SSM2 nowhere). The cube is laid out as the pipeline writes it (CF: scenario names
as the label coordinate ``scenario_name``, flags with ``_FillValue`` 255).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
import xarray as xr
from affine import Affine

CRS = "EPSG:3826"
WIDTH, HEIGHT = 40, 30
X0, Y0, RES = 170_000.0, 2_650_000.0, 1000.0
ISO = "XTW"
SCENARIOS = [
    ("BAU", 1.0, True),
    ("SSM1", 1.05, False),
    ("SSM2", 1.10, False),
    ("SSM3", 1.20, False),
]
WARMUP = (2001, 2020)
FORWARD = (2021, 2040)
YEARS = FORWARD[1] - FORWARD[0] + 1


def _fields() -> dict[str, np.ndarray]:
    rows, cols = np.mgrid[0:HEIGHT, 0:WIDTH]
    land = ((cols - 19.5) / 18) ** 2 + ((rows - 14.5) / 13) ** 2 < 1
    crop = land & (cols < 24) & ((rows + cols) % 7 != 0)
    paddy = land & (cols < 24) & ~crop
    grass = land & (cols >= 24) & (cols < 27)
    sim = crop | grass
    t0 = np.where(sim, 30 + 0.8 * cols + 0.5 * rows, np.nan)
    zones = np.where(land, (rows >= 15).astype(int), -1)
    return {
        "land": land,
        "crop": crop,
        "paddy": paddy,
        "grass": grass,
        "sim": sim,
        "t0": t0,
        "zones": zones,
        "cols": cols.astype(float),
    }


def _write_tif(
    path: Path, values: np.ndarray, *, dtype: str = "float32", nodata: float = np.nan
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(
        path,
        "w",
        driver="GTiff",
        width=WIDTH,
        height=HEIGHT,
        count=1,
        dtype=dtype,
        crs=CRS,
        transform=Affine(RES, 0.0, X0, 0.0, -RES, Y0),
        nodata=nodata,
    ) as dst:
        dst.write(values.astype(dtype), 1)


def make_run_folder(
    path: Path,
    *,
    dsm: bool = True,
    zones: bool = True,
    geotiff: bool = True,
    netcdf: bool = True,
    notes: tuple[str, ...] = (
        "climate is synthetic (demo region)",
        "land cover is MODIS MCD12C1 2019 (real)",
    ),
) -> Path:
    """Write a finished run folder under ``path`` and return it."""
    f = _fields()
    path.mkdir(parents=True, exist_ok=True)
    sim, t0 = f["sim"], f["t0"]
    # Final stocks: BAU loses a little in the west, gains in the east; SSMs add input-driven C.
    bau = t0 + YEARS * (-0.03 + 0.004 * (f["cols"] - 10))
    final = {name: bau + YEARS * 1.4 * (mult - 1.0) for name, mult, _ in SCENARIOS}
    soc_years = np.arange(WARMUP[1], FORWARD[1] + 1)
    frac = (soc_years - WARMUP[1]) / YEARS
    soc = np.stack(
        [
            np.stack([t0 + (final[n] - t0) * (1 - np.exp(-4 * k)) / (1 - np.exp(-4)) for k in frac])
            for n, _, _ in SCENARIOS
        ]
    ).astype(np.float32)
    warm_years = np.arange(WARMUP[0], WARMUP[1] + 1)
    warm = np.stack([t0 - 0.05 * (WARMUP[1] - y) for y in warm_years]).astype(np.float32)
    area = np.where(f["land"], 100.0, np.nan)

    products: list[str] = []
    if geotiff:
        maps = path / "maps"

        def put(kind: str, values: np.ndarray, scenario: str | None = None) -> None:
            middle = kind if scenario is None else f"{kind}_{scenario}"
            name = f"maps/{ISO}_GSOCseq_{middle}_Map030.tif"
            _write_tif(path / name, np.where(sim, values, np.nan))
            products.append(name)

        put("T0", t0)
        for name, _, base in SCENARIOS:
            put("finalSOC", final[name], name)
            put("AbsDiff", final[name] - t0, name)
            put("ASR", (final[name] - t0) / YEARS, name)
            if not base:
                put("RelDiff", final[name] - final["BAU"], name)
                put("RSR", (final[name] - final["BAU"]) / YEARS, name)
            with np.errstate(invalid="ignore"):
                reached = (final[name] - t0) / YEARS >= 0.004 * t0
            flag = np.where(sim, reached, 255).astype(np.uint8)
            _write_tif(
                maps / f"{ISO}_socseq_4p1000_{name}_Map030.tif", flag, dtype="uint8", nodata=255
            )
            products.append(f"maps/{ISO}_socseq_4p1000_{name}_Map030.tif")
    if netcdf:
        from socseq.io.raster import write_netcdf

        x = X0 + RES * (np.arange(WIDTH) + 0.5)
        y = Y0 - RES * (np.arange(HEIGHT) + 0.5)
        final_stack = np.stack([final[n] for n, _, _ in SCENARIOS])
        asr = np.where(sim, (final_stack - t0) / YEARS, np.nan)
        rsr = np.where(sim, (final_stack - final["BAU"]) / YEARS, np.nan)
        with np.errstate(invalid="ignore"):
            reach = np.where(sim, asr >= 0.004 * t0, 255).astype(np.uint8)
        reason = np.full((HEIGHT, WIDTH), 255, np.uint8)
        reason[f["land"]] = 254
        reason[f["paddy"]] = 2
        reason[sim] = 0
        meanings = {0: "simulated", 2: "paddy", 254: "not_an_agricultural_class"}
        meanings[255] = "no_land-use_data"
        flags = {"flag_values": np.array([0, 1, 255], np.uint8)}
        ds = xr.Dataset(
            {
                "soc_t_ha": (
                    ("scenario", "year", "y", "x"),
                    soc,
                    {"units": "t ha-1", "long_name": "SOC stock 0-30 cm"},
                ),
                "soc_t0_t_ha": (("y", "x"), t0, {"units": "t ha-1"}),
                "asr_t_ha_yr": (("scenario", "y", "x"), asr, {"units": "t ha-1 yr-1"}),
                "rsr_t_ha_yr": (("scenario", "y", "x"), rsr, {"units": "t ha-1 yr-1"}),
                "reaches_4p1000": (
                    ("scenario", "y", "x"),
                    reach,
                    {**flags, "flag_meanings": "not_reached reached not_simulated"},
                ),
                "cropland": (
                    ("y", "x"),
                    np.where(f["land"], f["crop"] | f["paddy"], 255).astype(np.uint8),
                    {**flags, "flag_meanings": "not_cropland cropland no_land_use_data"},
                ),
                "exclusion_reason": (
                    ("y", "x"),
                    reason,
                    {
                        "flag_values": np.array(list(meanings), np.uint8),
                        "flag_meanings": " ".join(meanings.values()),
                    },
                ),
                "soc_warmup_t_ha": (("warmup_year", "y", "x"), warm, {"units": "t ha-1"}),
                "area_ha": (("y", "x"), area, {"units": "ha"}),
            },
            coords={
                "scenario_name": ("scenario", np.array([s[0] for s in SCENARIOS], object)),
                "year": soc_years,
                "warmup_year": warm_years,
                "y": y,
                "x": x,
            },
        )
        fill = {"_FillValue": 255}
        write_netcdf(
            ds.rio.write_crs(CRS),
            path / "soc_stocks.nc",
            encoding={"reaches_4p1000": fill, "cropland": fill, "exclusion_reason": fill},
        )
        products.append("soc_stocks.nc")

    cell_area = 100.0
    rows = []
    zone_sets = [("all", np.ones_like(sim))]
    if zones:
        zone_sets += [("North", f["zones"] == 0), ("South", f["zones"] == 1)]
    for zone, in_zone in zone_sets:
        s = sim & in_zone
        a = s.sum() * cell_area
        for name, mult, base in SCENARIOS:
            asr = (final[name] - t0) / YEARS
            rsr = (final[name] - final["BAU"]) / YEARS
            with np.errstate(invalid="ignore"):
                reach = (s & f["crop"] & (asr >= 0.004 * t0)).sum() * cell_area
            crop_area = (s & f["crop"]).sum() * cell_area
            rows.append(
                {
                    "zone": zone,
                    "scenario": name,
                    "input_multiplier": mult,
                    "cropland_area_ha": float((f["crop"] & in_zone).sum() * cell_area),
                    "simulated_area_ha": float(a),
                    "simulated_cropland_area_ha": float(crop_area),
                    "simulated_cells": int(s.sum()),
                    "mean_soc_t0_t_ha": float(np.nanmean(t0[s])),
                    "mean_soc_final_t_ha": float(np.nanmean(final[name][s])),
                    "mean_asr_t_ha_yr": float(np.nanmean(asr[s])),
                    "mean_rsr_t_ha_yr": np.nan if base else float(np.nanmean(rsr[s])),
                    "total_asr_t_yr": float(np.nansum(asr[s]) * cell_area),
                    "total_rsr_t_yr": np.nan if base else float(np.nansum(rsr[s]) * cell_area),
                    "area_4p1000_ha": float(reach),
                    "share_4p1000_pct": float(100 * reach / crop_area),
                }
            )
    summary = pd.DataFrame(rows)
    summary.to_csv(path / "summary.csv", index=False)
    (path / "summary.json").write_text(
        json.dumps(summary.replace({np.nan: None}).to_dict(orient="records"))
    )
    series = [
        {
            "phase": "warmup",
            "scenario": "",
            "year": int(y),
            "mean_soc_t_ha": float(np.nanmean(w[sim])),
            "total_soc_t": float(np.nansum(w[sim]) * cell_area),
        }
        for y, w in zip(warm_years, warm, strict=True)
    ]
    for s, (name, _, _) in enumerate(SCENARIOS):
        series += [
            {
                "phase": "forward",
                "scenario": name,
                "year": int(y),
                "mean_soc_t_ha": float(np.nanmean(soc[s, j][sim])),
                "total_soc_t": float(np.nansum(soc[s, j][sim]) * cell_area),
            }
            for j, y in enumerate(soc_years)
        ]
    pd.DataFrame(series).to_csv(path / "timeseries.csv", index=False)
    n_paddy = int(f["paddy"].sum())
    other = int((f["land"] & ~sim & ~f["paddy"]).sum())
    pd.DataFrame(
        [
            {
                "code": 0,
                "reason": "simulated",
                "cells": int(sim.sum()),
                "area_ha": sim.sum() * cell_area,
            },
            {
                "code": 2,
                "reason": "paddy (excluded by configuration)",
                "cells": n_paddy,
                "area_ha": n_paddy * cell_area,
            },
            {"code": 3, "reason": "no SOC baseline", "cells": 0, "area_ha": 0.0},
            {
                "code": 254,
                "reason": "not an agricultural class",
                "cells": other,
                "area_ha": other * cell_area,
            },
        ]
    ).to_csv(path / "exclusions.csv", index=False)
    products += ["summary.csv", "summary.json", "timeseries.csv", "exclusions.csv"]

    metrics = {
        "n": 120,
        "ME": 0.12,
        "MAE": 3.4,
        "RMSE": 4.3,
        "R2": 0.79,
        "MEC": 0.76,
        "CCC": 0.83,
        "PICP90": 0.91,
    }
    if dsm:
        out = path / "dsm"
        out.mkdir()
        rng = np.random.default_rng(1)
        observed = rng.uniform(20, 80, 120)
        predicted = observed + rng.normal(0, 4, 120)
        pd.DataFrame(
            {
                "sample_id": [f"S{i:03d}" for i in range(120)],
                "fold": np.arange(120) % 5,
                "observed_t_ha": observed,
                "mean_t_ha": predicted,
                "median_t_ha": predicted,
                "q05_t_ha": predicted - 7,
                "q95_t_ha": predicted + 7,
                "sd_t_ha": np.full(120, 4.2),
            }
        ).to_csv(out / "cv_spatial_predictions.csv", index=False)
        pd.DataFrame(
            {
                "covariate": ["elevation", "ndvi", "clay", "land_use"],
                "permutation_rmse_increase_t_ha": [3.1, 1.4, 0.6, 0.2],
                "permutation_sd_t_ha": [0.3, 0.2, 0.1, 0.05],
            }
        ).to_csv(out / "importance.csv", index=False)
        (out / "validation_metrics.json").write_text(
            json.dumps(
                {
                    "units": "t C/ha for ME, MAE, RMSE",
                    "samples": {"read": 120, "used": 120},
                    "cv_spatial": {"pooled": metrics, "folds": []},
                }
            )
        )
        mean = np.where(f["land"], 25 + 0.9 * f["cols"], -999.0)
        sd = np.where(f["land"], 3 + 0.05 * f["cols"], -999.0)
        _write_tif(out / "soc_0_30cm_soc_mean_t_ha.tif", mean, nodata=-999.0)
        _write_tif(
            out / "soc_0_30cm_soc_q05_t_ha.tif",
            np.where(f["land"], mean - 7, -999.0),
            nodata=-999.0,
        )
        _write_tif(
            out / "soc_0_30cm_soc_q95_t_ha.tif",
            np.where(f["land"], mean + 7, -999.0),
            nodata=-999.0,
        )
        _write_tif(out / "soc_0_30cm_soc_sd_t_ha.tif", sd, nodata=-999.0)
        _write_tif(
            out / "soc_0_30cm_aoa.tif",
            np.where(f["land"], (f["cols"] < 30).astype(np.uint8), 255),
            dtype="uint8",
            nodata=255,
        )

    manifest = {
        "socseq_version": "0.1.0.dev0",
        "config_digest": "0123456789abcdef",
        "created_utc": "2026-11-29T04:44:06+00:00",
        "name": "Fake island <test> & co",
        "iso": ISO,
        "config": {"run": {"name": "Fake island", "iso": ISO}},
        "grid": {
            "crs": CRS,
            "transform": [RES, 0.0, X0, 0.0, -RES, Y0],
            "width": WIDTH,
            "height": HEIGHT,
        },
        "periods": {"spinup": [1981, 2000], "warmup": list(WARMUP), "forward": list(FORWARD)},
        "scenarios": [
            {"name": n, "input_multiplier": m, "fym_t_ha": 0.0, "baseline": b}
            for n, m, b in SCENARIOS
        ],
        "method": {
            "spinup": "exact",
            "carbon_fraction": 0.48,
            "evaporation_kind": "pet",
            "cover_source": "class",
            "paddy": "exclude",
            "constants": "official",
        },
        "timings_s": {
            "dsm": 4.3,
            "inputs": 8.8,
            "spinup": 0.2,
            "warmup": 0.5,
            "forward": 0.3,
            "products": 1.1,
        },
        "cells": {
            "grid": WIDTH * HEIGHT,
            "simulated": int(sim.sum()),
            "excluded": {"paddy (excluded by configuration)": n_paddy, "no SOC baseline": 0},
        },
        "inputs": {"clay": "/data/clay_pct.tif", "land_use": "/data/landuse.tif"},
        "products": sorted(products),
        "dsm": {"metrics": {"spatial": metrics}} if dsm else None,
        "notes": list(notes),
    }
    (path / "run.json").write_text(json.dumps(manifest, indent=2))
    return path


@pytest.fixture
def run_folder(tmp_path: Path) -> Path:
    """A complete run folder with DSM outputs, zones and notes."""
    return make_run_folder(tmp_path / "run")
