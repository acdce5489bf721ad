"""Frozen dataclasses pickled through their constructor, compiled or not.

mypyc compiles a frozen dataclass with a `__setstate__` that sets each field,
which the frozen class then refuses, so a scenario could not reach the
processes of a parallel run. A frozen dataclass that derives from `Pickled`
is rebuilt by its `__init__` instead, the same way in both forms.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable


class Pickled:
    """Base of a frozen dataclass: pickled and copied as its class and its init fields."""

    __slots__ = ()

    def __reduce__(self) -> tuple[Callable[..., Any], tuple[Any, ...]]:
        """The class and its init fields, for `rebuild`."""
        values = {field.name: getattr(self, field.name) for field in fields(self)  # type: ignore[arg-type]
                  if field.init}
        return rebuild, (type(self), values)


def rebuild(cls: Callable[..., Any], values: dict[str, Any]) -> Any:
    """The instance `Pickled.__reduce__` described."""
    return cls(**values)
