"""socseq: soil organic carbon sequestration maps with RothC and digital soil mapping.

The public API is curated here; sub-packages hold the details:

- :mod:`socseq.rothc`: the Rothamsted RothC 2.0.0 model, vectorised over cells.
- :mod:`socseq.io`: rasters, grids, units and soil samples.
- :mod:`socseq.dsm`: digital soil mapping of the baseline SOC stock.
- :mod:`socseq.pipeline`: the gridded GSOCseq pipeline (spin-up, warm-up, scenarios, products).
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from socseq.exceptions import SocseqError

try:
    __version__ = version("socseq")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["SocseqError", "__version__"]
