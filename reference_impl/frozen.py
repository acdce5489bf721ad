"""Frozen dataclasses pickled through their constructor, compiled or not.

mypyc compiles a frozen dataclass with a `__setstate__` that sets each field,
which the frozen class then refuses, so a scenario could not reach the
processes of a parallel run. A class that returns `reduce(self)` from its
`__reduce__` is rebuilt by its `__init__` instead, the same way in both forms.
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Callable


def reduce(instance: Any) -> tuple[Callable[..., Any], tuple[Any, ...]]:
    """What `__reduce__` returns for a frozen dataclass: its class and its init fields."""
    values = {field.name: getattr(instance, field.name) for field in fields(instance)
              if field.init}
    return rebuild, (type(instance), values)


def rebuild(cls: Callable[..., Any], values: dict[str, Any]) -> Any:
    """The instance `reduce` described."""
    return cls(**values)
