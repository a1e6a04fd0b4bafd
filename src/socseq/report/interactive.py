"""The report's interactive map: the run's cells embedded in the page, drawn on a canvas.

Hovering (or clicking, to pin) a cell shows its SOC at T0, each scenario's ASR, final SOC and
4-per-1000 flag, why it was or was not simulated, and the DSM's 90 % interval of its
baseline stock; the map pans (drag), zooms (wheel, buttons) and shows the chosen layer and
scenario. Everything is inline — the data as base64 typed arrays in a JSON ``<script>``
block, the code in one inline script (``templates/interactive_map.js``) — so the page still
opens from disk without a network.

Size limit: the data of a run are embedded when they take at most
:data:`MAX_EMBEDDED_BYTES` (8 MB of base64; about 150 000 simulated cells with four
scenarios). Above it the section says so and the report keeps its static maps.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

import numpy as np
from matplotlib.colors import Colormap, Normalize

from socseq.report.figures import (
    LAND_GREY,
    MapStyle,
    crs_label,
    diverging_style,
    flag_style,
    sequential_style,
)
from socseq.report.numbers import QUANTITIES
from socseq.report.run_folder import _NO_LAND_USE, RunFolder

__all__ = ["MAX_EMBEDDED_BYTES", "InteractiveMap", "build_interactive_map"]

#: Largest embedded data block [bytes of base64 text]; larger runs keep the static maps only.
MAX_EMBEDDED_BYTES = 8_000_000

#: ``exclusion_reason`` code of agricultural classes that are not candidates.
_NOT_AGRICULTURAL = 254


@dataclass(frozen=True)
class InteractiveMap:
    """The interactive map section of a report.

    Attributes
    ----------
    embedded : bool
        Whether the data are in the page (False above :data:`MAX_EMBEDDED_BYTES`).
    data_json : str
        The data block (JSON safe to place inside ``<script type="application/json">``);
        empty when not embedded.
    script : str
        The inline JavaScript that draws the map.
    size_bytes : int
        Size of the data block (or the size it would have had).
    cells : int
        Cells of the grid.
    simulated : int
        Simulated cells.
    """

    embedded: bool
    data_json: str
    script: str
    size_bytes: int
    cells: int
    simulated: int

    @property
    def size_mb(self) -> str:
        """The data size in MB, for the page."""
        return f"{self.size_bytes / 1e6:.1f}"

    @property
    def limit_mb(self) -> str:
        """The size limit in MB, for the page."""
        return f"{MAX_EMBEDDED_BYTES / 1e6:.0f}"


def _b64(values: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(values).tobytes()).decode("ascii")


def _lut(cmap: Colormap) -> str:
    """256 colours of a colour map as one hex string (6 characters each)."""
    rgba = (cmap(np.linspace(0, 1, 256)) * 255).round().astype(int)
    return "".join(f"{r:02x}{g:02x}{b:02x}" for r, g, b, _ in rgba)


def _style_json(style: MapStyle, kind: str, units: str) -> dict[str, Any]:
    norm: Normalize = style.norm
    out: dict[str, Any] = {"label": style.label, "kind": kind, "units": units}
    if style.categories is not None:
        out["categories"] = [
            {"label": text, "color": "#{:02x}{:02x}{:02x}".format(*_rgb(style.cmap(i)))}
            for i, text in enumerate(style.categories)
        ]
    else:
        assert norm.vmin is not None and norm.vmax is not None
        out.update(lut=_lut(style.cmap), vmin=float(norm.vmin), vmax=float(norm.vmax))
    return out


def _rgb(color: tuple[float, ...]) -> tuple[int, int, int]:
    return tuple(round(c * 255) for c in color[:3])  # type: ignore[return-value]


def _script() -> str:
    return (resources.files("socseq.report") / "templates" / "interactive_map.js").read_text(
        encoding="utf-8"
    )


def build_interactive_map(run: RunFolder) -> InteractiveMap:
    """Collect the run's cell values and render the data block of the interactive map.

    Reads the products the run wrote (GeoTIFFs, else the cube's float64 variables), the
    cube's exclusion reasons and cropland flag, and the DSM's 5 % / 95 % quantile maps.

    Parameters
    ----------
    run : RunFolder
        The finished run.

    Returns
    -------
    InteractiveMap
    """
    scenarios = run.scenarios
    t0 = run.product("T0")
    height, width = t0.values.shape
    reasons = run.reasons
    if reasons is None or reasons.shape != t0.values.shape:
        # Without the cube: simulated where T0 exists, nothing known about the other cells.
        reasons = np.where(np.isfinite(t0.values), 0, _NO_LAND_USE)
    codes = reasons.astype(np.uint8)
    sim = codes == 0
    n_sim = int(sim.sum())
    candidate = (codes != _NO_LAND_USE) & (codes != _NOT_AGRICULTURAL)
    n_cand = int(candidate.sum())
    n_scen = len(scenarios)
    # float32 values: 4 bytes; flags 1 byte; base64 adds a third.
    size = int(4 / 3 * (codes.size + n_sim * (4 * (1 + 2 * n_scen) + n_scen + 1) + n_cand * 4 * 3))
    script = _script()
    if size > MAX_EMBEDDED_BYTES:
        return InteractiveMap(False, "", script, size, codes.size, n_sim)

    asr = [run.product("ASR", s).values for s in scenarios]
    final = [run.product("finalSOC", s).values for s in scenarios]
    flags = [run.product("4p1000", s).values for s in scenarios]
    crop = run.cropland
    dsm = {q: run.dsm_map(f"soc_{q}_t_ha") for q in ("q05", "mean", "q95")}
    has_dsm = all(layer is not None and layer.values.shape == codes.shape for layer in dsm.values())

    def on_sim(values: np.ndarray) -> np.ndarray:
        return values[sim].astype(np.float32)

    t0_style = sequential_style([t0], "SOC stock 0–30 cm at T0 (t C/ha)")
    final_layers = [run.product("finalSOC", s) for s in scenarios]
    final_style = sequential_style(final_layers, "final SOC stock 0–30 cm (t C/ha)")
    asr_layers = [run.product("ASR", s) for s in scenarios]
    asr_style = diverging_style(asr_layers, "ASR (t C/ha/yr)")
    if crop is not None and crop.shape == codes.shape:
        p4_style = flag_style(
            "cropland, not reached", "cropland, reached", "other simulated class", label="4‰"
        )
    else:
        p4_style = flag_style("not reached", "reached", label="4‰")
    left, right, bottom, top = t0.extent
    aspect = 1.0
    if t0.crs is not None and t0.crs.is_geographic:
        aspect = 1 / max(float(np.cos(np.deg2rad((bottom + top) / 2))), 0.05)
    km = t0.crs is not None and not t0.crs.is_geographic
    data: dict[str, Any] = {
        "width": width,
        "height": height,
        "extent": [left, right, bottom, top],
        "aspect": aspect,
        "crs": crs_label(t0.crs),
        "coordScale": 1e-3 if km else 1.0,
        "coordUnits": "km" if km else "°",
        "scenarios": scenarios,
        "baseline": run.baseline,
        "forwardYears": run.forward_years,
        "codes": _b64(codes),
        "reasonLabels": {str(k): v for k, v in run.reason_labels.items()},
        "t0": _b64(on_sim(t0.values)),
        "asr": [_b64(on_sim(v)) for v in asr],
        "final": [_b64(on_sim(v)) for v in final],
        "flag": [_b64(np.nan_to_num(v[sim], nan=255).astype(np.uint8)) for v in flags],
        "cropland": (
            _b64(crop[sim].astype(np.uint8))
            if crop is not None and crop.shape == codes.shape
            else None
        ),
        "dsm": (
            {
                q: _b64(layer.values[candidate].astype(np.float32))
                for q, layer in dsm.items()
                if layer is not None
            }
            if has_dsm
            else None
        ),
        "styles": {
            "asr": _style_json(asr_style, "rate", "t C/ha/yr"),
            "final": _style_json(final_style, "stock", "t C/ha"),
            "t0": _style_json(t0_style, "stock", "t C/ha"),
            "p4": _style_json(p4_style, "flag", ""),
        },
        "landGrey": "#{:02x}{:02x}{:02x}".format(*_rgb(LAND_GREY)),
        "quantities": {k: list(v) for k, v in QUANTITIES.items()},
    }
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    # Safe inside <script>: no "</script>" or HTML comment can close or open anything.
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return InteractiveMap(True, text, script, len(text), codes.size, n_sim)
