"""Reading samples: CSV (comma/semicolon), GeoPackage, Shapefile, CRS handling, bad columns."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import Point, Polygon

from socseq.exceptions import ConfigError, InputFormatError, InputValidationError
from socseq.io.samples import read_samples

from .conftest import one_line

COLUMNS = {"soc_g_kg": ("SOC", "%"), "bd_g_cm3": ("BD", "g/cm3")}
LONLAT = {"lon": [21.40, 21.45, 21.50], "lat": [41.99, 42.00, 42.01]}


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {"id": ["a", "b", "c"], **LONLAT, "SOC": [1.5, 2.0, 2.5], "BD": [1.2, 1.3, 1.4]}
    )


def test_csv_lonlat_with_semicolons(tmp_path):
    path = tmp_path / "s.csv"
    _frame().to_csv(path, sep=";", index=False)
    table = read_samples(path, x="lon", y="lat", crs="EPSG:4326", id_column="id", columns=COLUMNS)
    assert list(table.data["sample_id"]) == ["a", "b", "c"]
    assert list(table.data["row"]) == [1, 2, 3]
    np.testing.assert_allclose(table.data["soc_g_kg"], [15.0, 20.0, 25.0])
    assert table.crs.to_epsg() == 4326
    utm = table.to_crs("EPSG:32634")
    assert utm.data["x"].between(400_000, 800_000).all()
    assert utm.data["y"].between(4_600_000, 4_700_000).all()


@pytest.mark.parametrize("suffix", [".gpkg", ".shp"])
def test_vector_points_carry_their_crs(tmp_path, suffix):
    frame = _frame()
    gdf = gpd.GeoDataFrame(
        frame.drop(columns=["lon", "lat"]),
        geometry=[Point(x, y) for x, y in zip(frame.lon, frame.lat, strict=True)],
        crs="EPSG:4326",
    ).to_crs("EPSG:32634")
    path = tmp_path / f"samples{suffix}"
    gdf.to_file(path)
    table = read_samples(path, id_column="id", columns=COLUMNS)
    assert table.crs.to_epsg() == 32634
    np.testing.assert_allclose(table.data["x"], gdf.geometry.x)
    back = table.to_crs("EPSG:4326")
    np.testing.assert_allclose(back.data["x"], frame["lon"], atol=1e-9)


def test_vector_file_refuses_polygons_and_xy_columns(tmp_path):
    gdf = gpd.GeoDataFrame(
        {"SOC": [1.0], "BD": [1.2]}, geometry=[Polygon([(0, 0), (1, 0), (1, 1)])], crs="EPSG:32634"
    )
    path = tmp_path / "poly.gpkg"
    gdf.to_file(path)
    with pytest.raises(InputFormatError) as exc:
        read_samples(path, columns=COLUMNS)
    assert "Polygon" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        read_samples(path, x="lon", y="lat", columns=COLUMNS)
    assert "remove x and y" in one_line(exc)


def test_missing_and_non_numeric_columns_are_named(tmp_path):
    path = tmp_path / "s.csv"
    frame = _frame()
    frame.to_csv(path, index=False)
    with pytest.raises(InputValidationError) as exc:
        read_samples(path, x="lon", y="lat", crs="EPSG:4326", columns={"soc_g_kg": ("OC", "%")})
    message = one_line(exc)
    assert "no column 'OC'" in message and "SOC" in message
    frame["SOC"] = frame["SOC"].astype(str)
    frame.loc[1, "SOC"] = "1,8"
    frame.to_csv(path, index=False)
    with pytest.raises(InputValidationError) as exc:
        read_samples(path, x="lon", y="lat", crs="EPSG:4326", columns=COLUMNS)
    assert "row 2 holds '1,8'" in one_line(exc)


def test_coordinates_must_fit_the_crs(tmp_path):
    path = tmp_path / "s.csv"
    _frame().to_csv(path, index=False)
    with pytest.raises(InputValidationError) as exc:
        read_samples(path, x="lon", y="lat", crs="EPSG:32634", columns=COLUMNS)
    assert 'set crs = "EPSG:4326"' in one_line(exc)
    projected = _frame().assign(lon=[500_000.0, 501_000.0, 502_000.0])
    projected.to_csv(path, index=False)
    with pytest.raises(InputValidationError) as exc:
        read_samples(path, x="lon", y="lat", crs="EPSG:4326", columns=COLUMNS)
    assert "not degrees" in one_line(exc)
    with pytest.raises(ConfigError) as exc:
        read_samples(path, x="lon", y="lat", columns=COLUMNS)
    assert "needs x, y and crs" in one_line(exc)
