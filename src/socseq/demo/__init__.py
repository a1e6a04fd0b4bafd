"""The embedded demo region: a synthetic, Taiwan-like 1 km region built from a seed.

:func:`~socseq.demo.region.build_region` writes the rasters, climate, samples and a complete
run configuration (``demo.toml``) that ``socseq demo`` runs. See ``docs/demo-region.md``.
"""

from socseq.demo.region import DEFAULT_SEED, build_region, true_soc

__all__ = ["DEFAULT_SEED", "build_region", "true_soc"]
