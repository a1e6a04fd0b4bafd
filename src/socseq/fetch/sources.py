"""The source table: what ``socseq fetch`` can download, from where, and under which terms.

Each entry is one :class:`Source`. Its ``kind`` says how it is fetched (the code path is the
same for the real provider and for a local test server; only ``base_url`` differs):

``ncss``
    A THREDDS NetCDF Subset Service: one request per variable and block of years returns the
    box's monthly series as NetCDF (TerraClimate).
``zip_monthly``
    A zip of 12 monthly GeoTIFFs, downloaded whole (resumable), then cropped locally
    (WorldClim 2.1 normals).
``cog_window``
    Cloud-optimised GeoTIFFs/VRTs read over HTTP range requests (GDAL ``/vsicurl/``): only the
    box's blocks travel. ``depths`` lists depth intervals averaged with thickness weights
    (SoilGrids 2.0).
``cog_tiles``
    A grid of COG tiles named by their south-west corner (ESA WorldCover 3° tiles), read at
    the overview nearest to a tenth of the output cell and aggregated by majority.

``role`` says what the run configuration uses the result for. Users extend or override the
table with a TOML file (``socseq fetch --sources-file FILE``)::

    [sources.soilgrids-sand]            # a new entry: every field of Source
    kind = "cog_window"
    role = "sand"
    ...
    [sources.terraclimate]              # an override of a built-in entry: only what changes
    base_url = "https://mirror.example.org"

The built-in entries, their URL layouts, licences and citations are documented, with where
each was found, in ``docs/data-sources.md``.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from socseq._toml import read_toml
from socseq.exceptions import ConfigError

__all__ = ["BUILTIN_SOURCES", "KINDS", "ROLES", "Source", "load_sources"]

Kind = Literal["ncss", "zip_monthly", "cog_window", "cog_tiles"]
Role = Literal["series", "normals", "clay", "soc", "sand", "land_use"]
KINDS: tuple[str, ...] = ("ncss", "zip_monthly", "cog_window", "cog_tiles")
ROLES: tuple[str, ...] = ("series", "normals", "clay", "soc", "sand", "land_use")


@dataclass(frozen=True)
class Source:
    """One entry of the source table.

    Attributes
    ----------
    name : str
        Key used on the command line (``--source NAME``) and in the cache path.
    kind : str
        How it is fetched (see the module docstring).
    role : str
        What the run uses it for: ``series`` (monthly climate series), ``normals`` (12
        monthly normals), ``clay``, ``soc``, ``sand`` (0–30 cm layers), ``land_use``.
    title, version : str
        Product name and version (the version is part of the cache key).
    base_url : str
        Scheme and host (and any leading path); overridable with ``--base-url NAME=URL``.
    path : str
        URL path after ``base_url``, with placeholders ``{var}``, ``{res}``, ``{depth}``,
        ``{tile}``.
    variables : tuple of str
        Provider variable names fetched.
    units : str
        Units of the values as read (after CF scale factors), per the provider's docs.
    licence, citation, homepage : str
        Terms of use, the reference to cite, and where the layout was documented.
    default : bool
        Fetched when no ``--source`` is given.
    checksums : mapping
        URL → ``"sha256:HEX"`` or ``"md5:HEX"`` where the provider publishes checksums.
    depths : tuple of str
        ``cog_window``: depth intervals such as ``"0-5cm"``; the layer is their
        thickness-weighted mean.
    scale : float
        ``cog_window``/``cog_tiles``: factor from the stored values to ``out_units``.
    out_units : str
        Units of the written layer.
    member : str
        ``zip_monthly``: member name template with ``{res}``, ``{var}``, ``{month}``.
    resolution : str
        ``zip_monthly``: resolution code in the file names (WorldClim: 10m, 5m, 2.5m, 30s).
    native_res : float
        Cell size of the source in its CRS units (for size estimates and overview choice).
    nodata : float, optional
        Stored no-data value when the files do not declare one.
    classes : str
        ``cog_tiles``: the class table (CSV in ``socseq.fetch.data`` or a path) mapping the
        product's codes to the FAO classes.
    first_year : int
        ``ncss``: first year of the record.
    """

    name: str
    kind: Kind
    role: Role
    title: str
    version: str
    base_url: str
    path: str
    variables: tuple[str, ...]
    units: str
    licence: str
    citation: str
    homepage: str
    default: bool = True
    checksums: Mapping[str, str] = field(default_factory=dict)
    depths: tuple[str, ...] = ()
    scale: float = 1.0
    out_units: str = ""
    member: str = ""
    resolution: str = ""
    native_res: float = 0.0
    nodata: float | None = None
    classes: str = ""
    first_year: int = 0

    def url(self, **fields: Any) -> str:
        """Return the file's URL: ``base_url`` + ``path`` with the placeholders filled in."""
        return self.base_url.rstrip("/") + "/" + self.path.lstrip("/").format(**fields)


_TERRACLIMATE_CITATION = (
    "Abatzoglou, J.T., Dobrowski, S.Z., Parks, S.A. and Hegewisch, K.C. (2018). "
    "TerraClimate, a high-resolution global dataset of monthly climate and climatic water "
    "balance from 1958-2015. Scientific Data 5, 170191. doi:10.1038/sdata.2017.191"
)
_SOILGRIDS_CITATION = (
    "Poggio, L., de Sousa, L.M., Batjes, N.H., Heuvelink, G.B.M., Kempen, B., Ribeiro, E. "
    "and Rossiter, D. (2021). SoilGrids 2.0: producing soil information for the globe with "
    "quantified spatial uncertainty. SOIL 7, 217-240. doi:10.5194/soil-7-217-2021"
)

#: The built-in table (see docs/data-sources.md for where each layout was documented).
BUILTIN_SOURCES: dict[str, Source] = {
    s.name: s
    for s in (
        Source(
            name="terraclimate",
            kind="ncss",
            role="series",
            title="TerraClimate monthly climate (THREDDS NetCDF Subset Service)",
            version="agg_1958_CurrentYear",
            base_url="http://thredds.northwestknowledge.net:8080",
            path="thredds/ncss/agg_terraclimate_{var}_1958_CurrentYear_GLOBE.nc",
            variables=("tmax", "tmin", "ppt", "pet"),
            units="tmax/tmin degC; ppt, pet mm per month",
            licence="CC0 1.0 (public domain)",
            citation=_TERRACLIMATE_CITATION,
            homepage="https://www.climatologylab.org/terraclimate.html",
            native_res=1 / 24,
            first_year=1958,
        ),
        Source(
            name="worldclim",
            kind="zip_monthly",
            role="normals",
            title="WorldClim 2.1 monthly climate normals 1970-2000",
            version="2.1",
            base_url="https://geodata.ucdavis.edu",
            path="climate/worldclim/2_1/base/wc2.1_{res}_{var}.zip",
            member="wc2.1_{res}_{var}_{month:02d}.tif",
            resolution="30s",
            variables=("tavg", "prec"),
            units="tavg degC; prec mm per month",
            licence=(
                "free for academic and other non-commercial use; redistribution or "
                "commercial use needs the authors' permission (worldclim.org)"
            ),
            citation=(
                "Fick, S.E. and Hijmans, R.J. (2017). WorldClim 2: new 1-km spatial "
                "resolution climate surfaces for global land areas. International Journal "
                "of Climatology 37(12), 4302-4315. doi:10.1002/joc.5086"
            ),
            homepage="https://www.worldclim.org/data/worldclim21.html",
            default=False,
            native_res=1 / 120,
        ),
        Source(
            name="soilgrids-clay",
            kind="cog_window",
            role="clay",
            title="SoilGrids 2.0 clay, mean, 0-5/5-15/15-30 cm -> 0-30 cm",
            version="2.0-latest",
            base_url="https://files.isric.org",
            path="soilgrids/latest/data/clay/clay_{depth}_mean.vrt",
            variables=("clay",),
            depths=("0-5cm", "5-15cm", "15-30cm"),
            units="g/kg",
            scale=0.1,
            out_units="%",
            licence="CC BY 4.0",
            citation=_SOILGRIDS_CITATION,
            homepage="https://docs.isric.org/globaldata/soilgrids/SoilGrids_faqs_01.html",
            native_res=250.0,
            nodata=-32768,
        ),
        Source(
            name="soilgrids-soc",
            kind="cog_window",
            role="soc",
            title="SoilGrids 2.0 organic carbon stock 0-30 cm, mean",
            version="2.0-latest",
            base_url="https://files.isric.org",
            path="soilgrids/latest/data/ocs/ocs_{depth}_mean.vrt",
            variables=("ocs",),
            depths=("0-30cm",),
            units="t/ha",
            scale=1.0,
            out_units="t/ha",
            licence="CC BY 4.0",
            citation=_SOILGRIDS_CITATION,
            homepage="https://docs.isric.org/globaldata/soilgrids/SoilGrids_faqs_01.html",
            native_res=250.0,
            nodata=-32768,
        ),
        Source(
            name="worldcover",
            kind="cog_tiles",
            role="land_use",
            title="ESA WorldCover 10 m 2021 v200, 3x3 degree COG tiles",
            version="v200-2021",
            base_url="https://esa-worldcover.s3.eu-central-1.amazonaws.com",
            path="v200/2021/map/ESA_WorldCover_10m_2021_v200_{tile}_Map.tif",
            variables=("map",),
            units="class",
            licence="CC BY 4.0",
            citation=(
                "Zanaga, D., Van De Kerchove, R., Daems, D., De Keersmaecker, W., Brockmann, "
                "C., Kirches, G., Wevers, J., Cartus, O., Santoro, M., Fritz, S., Lesiv, M., "
                "Herold, M., Tsendbazar, N.E., Xu, P., Ramoino, F. and Arino, O. (2022). ESA "
                "WorldCover 10 m 2021 v200. Attribution: (c) ESA "
                "WorldCover project / Contains modified Copernicus Sentinel data (2021) "
                "processed by ESA WorldCover consortium"
            ),
            homepage="https://worldcover2021.esa.int/download",
            native_res=1 / 12000,
            nodata=0,
            classes="worldcover_to_fao.csv",
        ),
    )
}

_FIELDS = {f.name: f for f in dataclasses.fields(Source)}
_TUPLES = {"variables", "depths"}


def _coerce(name: str, key: str, value: Any, where: str) -> Any:
    if key not in _FIELDS or key == "name":
        raise ConfigError(
            f"{where}: [sources.{name}.{key}] unknown key; use "
            f"{', '.join(k for k in _FIELDS if k != 'name')}"
        )
    if key in _TUPLES:
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{where}: [sources.{name}.{key}] must be a list of strings")
        return tuple(value)
    if key == "kind" and value not in KINDS:
        raise ConfigError(f"{where}: [sources.{name}.kind] must be one of {', '.join(KINDS)}")
    if key == "role" and value not in ROLES:
        raise ConfigError(f"{where}: [sources.{name}.role] must be one of {', '.join(ROLES)}")
    return value


def load_sources(
    path: str | os.PathLike[str] | None = None,
    *,
    base_urls: Mapping[str, str] | None = None,
) -> dict[str, Source]:
    """Return the built-in table, extended or overridden by a TOML file and ``--base-url``.

    Parameters
    ----------
    path : path-like, optional
        TOML file with ``[sources.NAME]`` tables: a new NAME gives every required field of
        :class:`Source`; a built-in NAME gives only the fields it changes.
    base_urls : mapping, optional
        NAME → base URL (the ``--base-url NAME=URL`` option; e.g. a mirror or a test server).

    Raises
    ------
    ConfigError
        Unknown source or key, a missing field of a new entry, or a bad kind/role.
    """
    table = dict(BUILTIN_SOURCES)
    if path is not None:
        where = f"sources file {path}"
        data = read_toml(path)
        extra = set(data) - {"sources"}
        if extra:
            raise ConfigError(f"{where}: only [sources.NAME] tables are allowed, not {extra}")
        for name, entry in data.get("sources", {}).items():
            if not isinstance(entry, dict):
                raise ConfigError(f"{where}: [sources.{name}] must be a table")
            values = {k: _coerce(name, k, v, where) for k, v in entry.items()}
            if name in table:
                table[name] = dataclasses.replace(table[name], **values)
                continue
            required = [
                f.name
                for f in dataclasses.fields(Source)
                if f.default is dataclasses.MISSING
                and f.default_factory is dataclasses.MISSING
                and f.name != "name"
            ]
            missing = [k for k in required if k not in values]
            if missing:
                raise ConfigError(
                    f"{where}: new source [sources.{name}] lacks {', '.join(missing)}"
                )
            table[name] = Source(name=name, **values)
    for name, url in (base_urls or {}).items():
        if name not in table:
            raise ConfigError(
                f"--base-url {name}={url}: no source named {name}; use one of "
                f"{', '.join(sorted(table))}"
            )
        table[name] = dataclasses.replace(table[name], base_url=url)
    return table
