"""Reading TOML configurations into pydantic models with one-line errors that name the key."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from socseq.exceptions import ConfigError

__all__ = ["read_toml", "validate"]

Model = TypeVar("Model", bound=BaseModel)


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML file.

    Raises
    ------
    ConfigError
        The file is missing or is not valid TOML.
    """
    path = Path(path)
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration {path}: does not exist; check the path") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration {path}: is not valid TOML ({exc})") from exc


def validate(
    model: type[Model],
    data: dict[str, Any],
    *,
    source: str,
    docs: str,
    prefix: tuple[str, ...] = (),
) -> Model:
    """Validate ``data`` with a pydantic model, turning its report into one ConfigError line.

    Parameters
    ----------
    model : type
        The pydantic model (``extra="forbid"`` so misspelt keys are caught).
    data : dict
        The parsed TOML (or a table of it).
    source : str
        What is validated, for the message (``"configuration run.toml"``).
    docs : str
        The page that lists the keys, named when a key is unknown.
    prefix : tuple of str
        Table path of ``data`` inside the file (``("dsm",)``), so keys are named in full.

    Raises
    ------
    ConfigError
        ``"{source}: [climate.series.temperature.units] is required (and 2 more)"``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        kind = first["type"]
        if kind == "extra_forbidden":
            message = f"unknown key; check its spelling against {docs}"
        elif kind == "missing":
            message = "is required"
        else:
            message = first["msg"].removeprefix("Value error, ")
        parts = [*prefix, *(str(p) for p in first["loc"] if not str(p).startswith("function-"))]
        where = ".".join(parts) if parts else "top level"
        more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
        raise ConfigError(f"{source}: [{where}] {message}{more}") from exc
