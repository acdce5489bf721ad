"""JSON from outside (the API's body, a page's websocket message), bounded in size and depth.

`parse` never raises anything but `JsonRefused`: a body a hundred thousand
brackets deep is refused like any other malformed one (Python's parser would
raise RecursionError), and one nested deeper than the limit is refused even
when it parses. Sizes are in bytes, as the limits say, even for text that
arrived decoded (a websocket's message): 40,000 "é" are 80 kB.
"""

from __future__ import annotations

import json
from typing import Any


class JsonRefused(ValueError):
    """JSON that is not taken: why, and whether it was refused for its size."""

    def __init__(self, message: str, too_big: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.too_big = too_big


def parse(raw: str | bytes, max_bytes: int, max_depth: int) -> Any:
    """The value of `raw`; `JsonRefused` if it is more than `max_bytes` bytes (in UTF-8),
    not UTF-8, not JSON (NaN and Infinity are not: a browser's JSON.parse refuses them), or
    nested more than `max_depth` arrays and objects deep."""
    if len(raw) > max_bytes or (isinstance(raw, str) and not raw.isascii()
                                and len(raw) * 4 > max_bytes and utf8_size(raw) > max_bytes):
        raise JsonRefused(f"too big: at most {max_bytes} bytes", too_big=True)
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise JsonRefused("not UTF-8 text") from None
    try:
        value = json.loads(raw, parse_constant=_not_json)
    except RecursionError:
        raise JsonRefused(f"nested too deeply: at most {max_depth} levels") from None
    except ValueError:
        raise JsonRefused("not valid JSON") from None
    # Cheap first: fewer brackets than the limit cannot nest deeper than it.
    if raw.count("[") + raw.count("{") > max_depth and depth(value, max_depth) > max_depth:
        raise JsonRefused(f"nested too deeply: at most {max_depth} levels")
    return value


def utf8_size(text: str) -> int:
    """How many bytes `text` takes in UTF-8 (a lone surrogate as three, as it is sent)."""
    return len(text.encode("utf-8", "surrogatepass"))


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def depth(value: Any, stop: int) -> int:
    """How deep arrays and objects nest in `value` (a scalar: 0), counted up to `stop` + 1."""
    deepest, todo = 0, [(value, 1)]
    while todo:
        item, level = todo.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        deepest = max(deepest, level)
        if deepest > stop:
            return deepest
        todo.extend((child, level + 1) for child in children
                    if isinstance(child, (dict, list)))
    return deepest
