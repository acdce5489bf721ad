"""The field types of scenario files: durations, rates, sizes and distributions.

Each is a pydantic `Annotated` type whose validator turns what the file says
(`300ms`, `120/h`, `{lognormal: {median: 4s, sigma: 0.5}}`) into the value a
model takes (seconds, per second, a `Distribution`), or refuses it with a
message naming what is accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo

from ..models import distributions as d
from ..units import parse_bitrate, parse_duration, parse_rate, parse_size


def _duration(value: object) -> float:
    return parse_duration(value)


def _distribution(value: object, info: ValidationInfo) -> d.Distribution:
    if isinstance(value, d.Distribution):
        return value
    if not isinstance(value, dict):
        return d.Fixed(parse_duration(value))      # a bare duration is a fixed value
    if len(value) != 1:
        raise ValueError(f"a distribution has exactly one kind, got {sorted(value)} "
                         f"(one of {', '.join(_DISTRIBUTIONS)})")
    (kind, params), = value.items()
    if kind not in _DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {kind!r} (one of {', '.join(_DISTRIBUTIONS)})")
    base = (info.context or {}).get("base", Path("."))
    return _DISTRIBUTIONS[kind](params, base)


def _params(params: object, *names: str) -> list[Any]:
    if not isinstance(params, dict) or set(params) != set(names):
        raise ValueError(f"takes {{{', '.join(names)}}}, got {params!r}")
    return [params[name] for name in names]


def _uniform(params: object, base: Path) -> d.Distribution:
    if not isinstance(params, list) or len(params) != 2:
        raise ValueError(f"uniform takes [lo, hi], got {params!r}")
    return d.Uniform(parse_duration(params[0]), parse_duration(params[1]))


def _two(make: Any, params: list[Any]) -> d.Distribution:
    """A distribution of (a duration, a plain number): lognormal's median and sigma, gamma's mean and cv."""
    scale, shape = params
    if isinstance(shape, bool) or not isinstance(shape, (int, float)):
        raise ValueError(f"{shape!r} is not a number")
    return make(parse_duration(scale), float(shape))  # type: ignore[no-any-return]


def _empirical(params: object, base: Path) -> d.Distribution:
    (file,) = _params(params, "file")
    path = base / str(file)
    if not path.is_file():
        raise ValueError(f"empirical file {str(path)!r} does not exist")
    return d.Empirical.from_file(path)


_DISTRIBUTIONS = {
    "fixed": lambda p, base: d.Fixed(parse_duration(p)),
    "uniform": _uniform,
    "exponential": lambda p, base: d.Exponential(parse_duration(*_params(p, "mean"))),
    "lognormal": lambda p, base: _two(d.LogNormal, _params(p, "median", "sigma")),
    "gamma": lambda p, base: _two(d.Gamma, _params(p, "mean", "cv")),
    "empirical": _empirical,
}

Duration = Annotated[float, BeforeValidator(_duration)]
Dist = Annotated[d.Distribution, BeforeValidator(_distribution)]
Rate = Annotated[float, BeforeValidator(lambda v: parse_rate(v))]
Bitrate = Annotated[float, BeforeValidator(lambda v: parse_bitrate(v))]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True,
                              populate_by_name=True)


def _size_distribution(value: object, info: ValidationInfo) -> d.Distribution:
    """Like `Dist`, in bytes: `400kB`, or `{lognormal: {median: 400kB, sigma: 0.8}}`."""
    if isinstance(value, d.Distribution):
        return value
    if not isinstance(value, dict):
        return d.Fixed(parse_size(value))
    if len(value) != 1 or next(iter(value)) not in _SIZE_DISTRIBUTIONS:
        raise ValueError(f"a size distribution is one of {', '.join(_SIZE_DISTRIBUTIONS)}, "
                         f"got {sorted(value)}")
    (kind, params), = value.items()
    return _SIZE_DISTRIBUTIONS[kind](params)


def _size_uniform(params: object) -> d.Distribution:
    if not isinstance(params, list) or len(params) != 2:
        raise ValueError(f"uniform takes [lo, hi], got {params!r}")
    return d.Uniform(parse_size(params[0]), parse_size(params[1]))


def _size_two(make: Any, params: list[Any]) -> d.Distribution:
    scale, shape = params
    if isinstance(shape, bool) or not isinstance(shape, (int, float)):
        raise ValueError(f"{shape!r} is not a number")
    return make(parse_size(scale), float(shape))  # type: ignore[no-any-return]


_SIZE_DISTRIBUTIONS: dict[str, Callable[[Any], d.Distribution]] = {
    "fixed": lambda p: d.Fixed(parse_size(p)),
    "uniform": _size_uniform,
    "exponential": lambda p: d.Exponential(parse_size(*_params(p, "mean"))),
    "lognormal": lambda p: _size_two(d.LogNormal, _params(p, "median", "sigma")),
    "gamma": lambda p: _size_two(d.Gamma, _params(p, "mean", "cv")),
}


def _queue(value: object) -> tuple[str, float]:
    """A queue limit: a size (`64kB`) or a number of packets (`100 packets`)."""
    if isinstance(value, str) and value.strip().endswith("packets"):
        count = value.strip().removesuffix("packets").strip()
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"{value!r}: write a whole number of packets, 1 or more (e.g. 100 packets)")
        return ("packets", float(count))
    return ("bytes", parse_size(value))


Size = Annotated[float, BeforeValidator(lambda v: parse_size(v))]
SizeDist = Annotated[d.Distribution, BeforeValidator(_size_distribution)]
LinkRate = Annotated[Bitrate, Field(gt=0)]
QueueLimit = Annotated[tuple[str, float], BeforeValidator(_queue)]
