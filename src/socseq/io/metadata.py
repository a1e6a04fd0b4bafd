"""One metadata vocabulary for every product socseq writes (DSM and pipeline alike).

Provenance keys, written as GeoTIFF tags, NetCDF global attributes and ``run.json`` entries:

- ``socseq_version``: the package version that wrote the file;
- ``config_digest``: :meth:`~socseq.pipeline.config.RunConfig.digest` (or the DSM
  configuration's), a hex SHA-256 prefix of the normalised configuration;
- ``created``: UTC time of writing, ISO 8601 to the second (``2026-11-29T04:44:06+00:00``).

Units are UDUNITS-2 strings, so that CF checkers and pint/cf-units based readers convert them:
a stock of carbon is ``t ha-1`` (tonnes per hectare, 0.1 kg m-2) with the carbon named by the
standard name ``soil_mass_content_of_carbon`` (the content down to the bottom of the soil
model, which for RothC is the modelled layer, 0–30 cm by default) and the long name.
``t C ha-1`` is not used: UDUNITS reads ``C`` as coulomb. The names of variables keep their
unit suffixes (``soc_t_ha``, ``asr_t_ha_yr``): the suffix names the unit, the attribute
states it.
"""

from __future__ import annotations

import datetime as dt

from socseq import __version__

__all__ = [
    "CF_CONVENTIONS",
    "RATE_UNITS",
    "SOC_STANDARD_NAME",
    "STOCK_UNITS",
    "netcdf_attrs",
    "provenance",
]

#: CF version the NetCDF products declare (and are checked against in the tests).
CF_CONVENTIONS = "CF-1.11"

#: UDUNITS string of a carbon stock per area [t/ha]; the carbon is in the standard name.
STOCK_UNITS = "t ha-1"

#: UDUNITS string of a carbon stock change per area and year [t/ha/yr].
RATE_UNITS = "t ha-1 yr-1"

#: CF standard name of the SOC stock of the modelled soil (canonical units kg m-2). The more
#: specific ``carbon_mass_content_of_soil_layer`` needs depth bounds on a scalar coordinate,
#: which the IOOS checker (6.1) rejects; the soil of the model is the layer, so both are right.
SOC_STANDARD_NAME = "soil_mass_content_of_carbon"


def provenance(config_digest: str) -> dict[str, str]:
    """Return the provenance entries of a product (see the module docstring).

    Parameters
    ----------
    config_digest : str
        Digest of the configuration that produced the product.

    Returns
    -------
    dict of str
        ``socseq_version``, ``config_digest`` and ``created`` (UTC, seconds).
    """
    return {
        "socseq_version": __version__,
        "config_digest": config_digest,
        "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }


def netcdf_attrs(config_digest: str, title: str, **extra: object) -> dict[str, object]:
    """Return the global attributes of a NetCDF product: CF's and the provenance.

    Parameters
    ----------
    config_digest : str
        Digest of the configuration that produced the product.
    title : str
        CF ``title``.
    **extra
        Further attributes (e.g. ``summary``, ``forward_years``).

    Returns
    -------
    dict
        ``Conventions``, ``title``, ``source``, ``history`` (one line: when and by which
        version the file was written) and the :func:`provenance` entries, then ``extra``.
    """
    tags = provenance(config_digest)
    return {
        "Conventions": CF_CONVENTIONS,
        "title": title,
        "source": f"socseq {__version__}: RothC 2.0.0 with the GSOCseq protocol",
        "history": f"{tags['created']}: written by socseq {__version__}",
        **tags,
        **extra,
    }
