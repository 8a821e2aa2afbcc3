"""Say what a settings table takes when a key is unknown: the closest known key, else every known one.

``known_keys`` follows a problem's location (``("feeds", 0, "nmae")``) through the settings models, list items
and named tables (``[webhooks.NAME]``) included, to the model that refused the key, and returns the keys that
model takes; ``unknown_key`` words the problem with the closest of them (``difflib``, case ignored).
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

# Keys the loader sets itself; a settings file may not write them.
INTERNAL = ("path",)


def unknown_key(model: type[BaseModel], loc: Sequence[str | int]) -> str:
    """Return the problem of the unknown key at ``loc``: the closest known key, or the known keys."""
    key = str(loc[-1]) if loc else ""
    known = known_keys(model, loc[:-1])
    folded = {name.lower(): name for name in known}
    close = difflib.get_close_matches(key.lower(), list(folded), n=1, cutoff=0.6)
    if close:
        return f"unknown key {key!r} (did you mean {folded[close[0]]!r}?)"
    if known:
        return f"unknown key {key!r} (known here: {', '.join(known)})"
    return f"unknown key {key!r}"


def known_keys(model: type[BaseModel], loc: Sequence[str | int]) -> list[str]:
    """Return the keys the table at ``loc`` takes, in the model's order (none when ``loc`` leads nowhere known)."""
    kind: Any = model
    for part in loc:
        kind = _model_or_container(kind)
        if _is_model(kind):
            field = kind.model_fields.get(str(part))
            if field is None:
                return []
            kind = field.annotation
        elif get_origin(kind) is list and isinstance(part, int):
            kind = get_args(kind)[0]
        elif get_origin(kind) is dict and isinstance(part, str):
            kind = get_args(kind)[1]
        else:
            return []
    kind = _model_or_container(kind)
    if not _is_model(kind):
        return []
    return [name for name in kind.model_fields if not (kind is model and name in INTERNAL)]


def _model_or_container(kind: Any) -> Any:
    """Return ``kind`` without ``Annotated`` and ``None`` alternatives: a model, a list or dict type, or as is."""
    while True:
        origin = get_origin(kind)
        if origin is Annotated:
            kind = get_args(kind)[0]
        elif origin is Union or origin is types.UnionType:
            choices = [arg for arg in get_args(kind) if arg is not type(None)]
            if len(choices) != 1:
                return kind
            kind = choices[0]
        else:
            return kind


def _is_model(kind: Any) -> bool:
    return isinstance(kind, type) and issubclass(kind, BaseModel)
