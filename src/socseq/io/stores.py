"""Typed access to the arrays of a Zarr group (scratch stores and the results store).

zarr 3 types ``group[name]`` as ``Array | Group``; these helpers narrow it once, with an error
that names the store and the member when a name holds a group instead of an array.
"""

from __future__ import annotations

import numpy as np
import zarr

__all__ = ["read_stored", "stored_array"]


def stored_array(group: zarr.Group, name: str) -> zarr.Array:
    """Return the array ``name`` of ``group`` (raises ``TypeError`` if it is a group)."""
    member = group[name]
    if not isinstance(member, zarr.Array):
        raise TypeError(f"store {group.store}: '{name}' is a group, an array was expected")
    return member


def read_stored(group: zarr.Group, name: str) -> np.ndarray:
    """Read the whole array ``name`` of ``group`` into memory."""
    return np.asarray(stored_array(group, name)[...])
