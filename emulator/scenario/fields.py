"""The field types of scenario files: durations, rates, sizes and distributions.

Each is a pydantic `Annotated` type whose validator turns what the file says
(`300ms`, `120/h`, `{lognormal: {median: 4s, sigma: 0.5}}`) into the value a
model takes (seconds, per second, a `Distribution`), or refuses it with a
message naming what is accepted.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Callable

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, WithJsonSchema

from ..models import distributions as d
from ..units import (DURATION_PATTERN, RATE_PATTERN, parse_bitrate, parse_duration, parse_rate,
                     parse_size)

# Beyond a century of seconds floating point starts to lose the microseconds a
# call's steps are apart (1e20 s + 0.3 s is 1e20 s): a time that long is a slip.
MAX_DURATION = 100 * 365 * 86400.0
EMPIRICAL_LIMIT = 1_000_000        # values in an empirical distribution's file


def _duration(value: object) -> float:
    seconds = parse_duration(value)
    if seconds > MAX_DURATION:
        raise ValueError(f"{value!r} is more than 100 years: write a shorter time")
    return seconds


def _distribution(value: object, info: ValidationInfo) -> d.Distribution:
    if isinstance(value, d.Distribution):
        return value
    if not isinstance(value, dict):
        return d.Fixed(_duration(value))           # a bare duration is a fixed value
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
    return d.Uniform(_duration(params[0]), _duration(params[1]))


def _two(make: Any, params: list[Any]) -> d.Distribution:
    """A distribution of (a duration, a plain number): lognormal's median and sigma, gamma's mean and cv."""
    scale, shape = params
    if isinstance(shape, bool) or not isinstance(shape, (int, float)):
        raise ValueError(f"{shape!r} is not a number")
    return make(_duration(scale), float(shape))  # type: ignore[no-any-return]


def _empirical(params: object, base: Path) -> d.Distribution:
    (file,) = _params(params, "file")
    path = base / str(file)
    if not path.is_file():
        raise ValueError(f"empirical file {str(path)!r} does not exist")
    return d.Empirical(read_values(path))


def read_values(path: Path) -> tuple[float, ...]:
    """One duration a line (seconds, or with units); `#` starts a comment line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"{path}: cannot be read as UTF-8 text ({error})") from None
    values = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            values.append(_duration(line))
        except ValueError as error:
            raise ValueError(f"{path}:{number}: {error}") from None
        if len(values) > EMPIRICAL_LIMIT:
            raise ValueError(f"{path}: more than {EMPIRICAL_LIMIT:,} values")
    if not values:
        raise ValueError(f"{path}: no values (one duration a line)")
    return tuple(values)


_DISTRIBUTIONS = {
    "fixed": lambda p, base: d.Fixed(_duration(p)),
    "uniform": _uniform,
    "exponential": lambda p, base: d.Exponential(_duration(*_params(p, "mean"))),
    "lognormal": lambda p, base: _two(d.LogNormal, _params(p, "median", "sigma")),
    "gamma": lambda p, base: _two(d.Gamma, _params(p, "mean", "cv")),
    "empirical": _empirical,
}

# -- what editors are told (callback-emu schema): the forms a file may write ----

DURATION_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "number", "minimum": 0, "maximum": MAX_DURATION},
              {"type": "string", "pattern": DURATION_PATTERN}],
    "description": "seconds, or a duration with units (300ms, 4s, 2min, 1h, 8h30min) or a "
                   "clock time from time 0 (08:30)"}
RATE_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string", "pattern": RATE_PATTERN}],
    "description": "per second, or a rate with a period (120/h, 2/min, 0.5/s)"}
BITRATE_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "number", "minimum": 0},
              {"type": "string",
               "pattern": r"^\s*[0-9.eE+-]+\s*[kKmMgG]?([bB][iI][tT]/[sS]|[bB][pP][sS])\s*$"}],
    "description": "bit/s, or with a unit (800kbit/s, 1.2Mbit/s, 1Gbit/s)"}
SIZE_SCHEMA: dict[str, Any] = {
    "anyOf": [{"type": "number", "minimum": 0},
              {"type": "string", "pattern": r"^\s*[0-9.eE+-]+\s*[kKmMgG]?i?B\s*$"}],
    "description": "bytes, or with a unit (200B, 64kB, 1.5MB, 64KiB)"}


def _one_of_kinds(scalar: dict[str, Any], files: bool) -> dict[str, Any]:
    """A distribution: a bare value (fixed), or a mapping of one kind to its parameters."""
    def params(*names: str, shape: str = "") -> dict[str, Any]:
        positive = {"type": "number", "exclusiveMinimum": 0}
        props = {name: ({"type": "number", "minimum": 0} if name == shape == "sigma" else
                        positive if name == shape else scalar) for name in names}
        return {"type": "object", "properties": props, "required": list(names),
                "additionalProperties": False}
    kinds: dict[str, Any] = {
        "fixed": scalar,
        "uniform": {"type": "array", "items": scalar, "minItems": 2, "maxItems": 2},
        "exponential": params("mean"),
        "lognormal": params("median", "sigma", shape="sigma"),
        "gamma": params("mean", "cv", shape="cv"),
    }
    if files:
        kinds["empirical"] = {"type": "object", "properties": {"file": {"type": "string"}},
                              "required": ["file"], "additionalProperties": False}
    return {"anyOf": [scalar, {"type": "object", "properties": kinds, "minProperties": 1,
                               "maxProperties": 1, "additionalProperties": False}],
            "description": "a value (fixed), or one of " + ", ".join(kinds)}


Duration = Annotated[float, BeforeValidator(_duration), WithJsonSchema(DURATION_SCHEMA)]
# A metric expectation's bound: a plain number (a count, a fraction, kbit/s) or a duration.
Bound = Annotated[float, BeforeValidator(lambda v: parse_duration(v)), WithJsonSchema({
    "anyOf": [{"type": "number"}, {"type": "string", "pattern": DURATION_PATTERN}],
    "description": "a number in the metric's unit, or a duration for a time (25s)"})]
Dist = Annotated[d.Distribution, BeforeValidator(_distribution),
                 WithJsonSchema(_one_of_kinds(DURATION_SCHEMA, files=True))]
Rate = Annotated[float, BeforeValidator(lambda v: parse_rate(v)), WithJsonSchema(RATE_SCHEMA)]
Bitrate = Annotated[float, BeforeValidator(lambda v: parse_bitrate(v)),
                    WithJsonSchema(BITRATE_SCHEMA)]
Probability = Annotated[float, Field(ge=0.0, le=1.0)]


class Strict(BaseModel):
    """The base of every model of the schema: unknown keys refused, values frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


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


Size = Annotated[float, BeforeValidator(lambda v: parse_size(v)), WithJsonSchema(SIZE_SCHEMA)]
SizeDist = Annotated[d.Distribution, BeforeValidator(_size_distribution),
                     WithJsonSchema(_one_of_kinds(SIZE_SCHEMA, files=False))]
LinkRate = Annotated[Bitrate, Field(gt=0)]
QueueLimit = Annotated[tuple[str, float], BeforeValidator(_queue), WithJsonSchema({
    "anyOf": [SIZE_SCHEMA, {"type": "string", "pattern": r"^\s*[0-9]+\s*packets\s*$"}],
    "description": "a size (64kB) or a number of packets (100 packets)"})]


def yaml_form(value: Any) -> Any:
    """A default as a file would write it (for the JSON Schema's defaults)."""
    if isinstance(value, d.Fixed):
        return value.value
    if isinstance(value, d.Uniform):
        return {"uniform": [value.low, value.high]}
    if isinstance(value, d.Exponential):
        return {"exponential": {"mean": value.mean_value}}
    if isinstance(value, d.LogNormal):
        return {"lognormal": {"median": value.median, "sigma": value.sigma}}
    if isinstance(value, d.Gamma):
        return {"gamma": {"mean": value.mean_value, "cv": value.cv}}
    if isinstance(value, tuple) and len(value) == 2 and value[0] in ("bytes", "packets"):
        return f"{value[1]:g} packets" if value[0] == "packets" else value[1]
    return value
