"""Reading TOML configurations into pydantic models with one-line errors that name the key.

This is also the one home of the configuration path resolver (:func:`resolve_paths`): every
``Path`` field of every section, nested models and lists included, is made absolute against the
configuration file's folder the same way.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
import typing
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from socseq.exceptions import ConfigError

__all__ = ["format_errors", "read_toml", "resolve_paths", "validate"]

Model = TypeVar("Model", bound=BaseModel)

#: At most this many configuration errors are spelt out in the one-line message.
MAX_LISTED = 8

#: Type tags pydantic appends to the location of a union member's error.
_TYPE_TAG = re.compile(r"^(float|int|str|bool|bytes|none|list|tuple|dict)$|[\[\]()]|^function-")


def read_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML file.

    Raises
    ------
    ConfigError
        The file is missing, is not UTF-8 text, or is not valid TOML.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise ConfigError(f"configuration {path}: does not exist; check the path") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"configuration {path}: is a folder; give the TOML file") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"configuration {path}: is not UTF-8 text (byte 0x{raw[exc.start]:02x} on line "
            f"{line}); save it as UTF-8 (TOML files are UTF-8 by definition)"
        ) from exc
    try:
        return tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration {path}: is not valid TOML ({exc})") from exc


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """Return the pydantic model inside an annotation (``X``, ``X | None``, ``list[X]``...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """Field names of the (nested) model that table ``loc`` of the file is validated with."""
    current: type[BaseModel] | None = model
    for part in loc:
        if current is None:
            return []
        if isinstance(part, int):
            continue
        field = current.model_fields.get(str(part))
        if field is None:
            return []
        current = _model_in(field.annotation)
    return list(current.model_fields) if current is not None else []


def _where(prefix: tuple[str, ...], loc: tuple[Any, ...]) -> str:
    parts = [*prefix, *(str(p) for p in loc)]
    return ".".join(parts) if parts else "top level"


def _clean_loc(error: Any) -> tuple[Any, ...]:
    """Return the location without pydantic's validator and union-member tags."""
    loc = tuple(error["loc"])
    keep_last = error["type"] == "extra_forbidden"  # the last part is the user's key
    body = loc[:-1] if keep_last else loc
    cleaned = tuple(p for p in body if not (isinstance(p, str) and _TYPE_TAG.search(p)))
    return (*cleaned, loc[-1]) if keep_last and loc else cleaned


def _short(message: str) -> str:
    """``"Input should be a valid number, unable to parse"`` -> ``"a valid number"``."""
    if message.startswith("Input is not a valid path"):
        return "a file path"
    return message.removeprefix("Input should be ").split(",")[0]


def format_errors(
    model: type[BaseModel], exc: ValidationError, *, docs: str, prefix: tuple[str, ...] = ()
) -> list[str]:
    """Turn pydantic's report into one message per configuration key, the most telling first.

    Unknown keys come first (a misspelt required key is reported as the unknown key, with the
    required key it probably meant), then wrong values, then missing keys; a union's several
    member errors become one message.

    Parameters
    ----------
    model : type
        The validated model (for the key names suggested for a misspelt key).
    exc : pydantic.ValidationError
        The report.
    docs : str
        The page that lists the keys.
    prefix : tuple of str
        Table path of the validated data inside the file.

    Returns
    -------
    list of str
        ``"[inputs.cly] unknown key, did you mean 'clay' (required)? ..."`` and so on.
    """
    unknown: list[tuple[tuple[Any, ...], str]] = []
    values: dict[str, list[str]] = {}
    missing: dict[tuple[Any, ...], str] = {}
    for error in exc.errors():
        loc = _clean_loc(error)
        kind = error["type"]
        if kind == "extra_forbidden":
            unknown.append((loc, _where(prefix, loc)))
        elif kind == "missing":
            missing.setdefault(loc, _where(prefix, loc))
        else:
            message = error["msg"].removeprefix("Value error, ")
            values.setdefault(_where(prefix, loc), []).append(message)

    messages: list[str] = []
    for loc, where in unknown:
        parent, key = loc[:-1], str(loc[-1])
        required = [str(m[-1]) for m in missing if m[:-1] == parent]
        close = difflib.get_close_matches(key, required, n=1, cutoff=0.6)
        if close:
            missing.pop((*parent, close[0]))
            hint = f"did you mean '{close[0]}' (required)? "
        else:
            known = difflib.get_close_matches(key, _fields_at(model, parent), n=1, cutoff=0.6)
            hint = f"did you mean '{known[0]}'? " if known else ""
        messages.append(f"[{where}] unknown key, {hint}check its spelling against {docs}")
    for where, found in values.items():
        if len(found) == 1 and found[0].startswith("Input is not a valid path"):
            messages.append(f"[{where}] should be a file path in quotes")
        elif len(found) == 1:
            messages.append(f"[{where}] {found[0]}")
        else:
            options = list(dict.fromkeys(_short(m) for m in found))
            text = ", ".join(options[:-1]) + f" or {options[-1]}"
            messages.append(f"[{where}] should be {text}")
    messages += [f"[{where}] is required" for where in missing.values()]
    return messages


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
        One line listing every error (up to :data:`MAX_LISTED`), unknown keys first:
        ``"{source}: [inputs.cly] unknown key, did you mean 'clay' (required)? ...;
        [climate.series.temperature.units] is required"``.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        messages = format_errors(model, exc, docs=docs, prefix=prefix)
        listed = "; ".join(messages[:MAX_LISTED])
        more = f"; and {len(messages) - MAX_LISTED} more" if len(messages) > MAX_LISTED else ""
        raise ConfigError(f"{source}: {listed}{more}") from exc


def resolve_paths(value: Any, root: str | os.PathLike[str]) -> Any:
    """Return a copy of a configuration with every relative path made absolute against ``root``.

    Walks pydantic models, tuples, lists and dicts; every :class:`pathlib.Path` value that is
    relative is joined to ``root`` (the configuration file's folder) and normalised (``a/../b``
    becomes ``b``, so messages show the file users recognise). Strings are left alone, so a
    setting that is either a keyword or a file must be typed ``Literal[...] | Path``.

    Parameters
    ----------
    value : pydantic.BaseModel or any
        The validated configuration (or a part of it).
    root : path-like
        Folder relative paths are relative to.
    """
    base = Path(root)
    if isinstance(value, Path):
        return value if value.is_absolute() else Path(os.path.normpath(base / value))
    if isinstance(value, BaseModel):
        updates = {
            name: resolve_paths(getattr(value, name), base) for name in type(value).model_fields
        }
        return value.model_copy(update=updates)
    if isinstance(value, tuple | list):
        return type(value)(resolve_paths(v, base) for v in value)
    if isinstance(value, dict):
        return {k: resolve_paths(v, base) for k, v in value.items()}
    return value
