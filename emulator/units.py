"""Durations (`300ms`, `4s`, `2min`, `1h`, `8h30min`, `08:30`), rates (`120/h`, `2/min`,
`0.5/s`), bit rates (`1.2Mbit/s`, `800kbit/s`, `1Gbps`) and sizes (`200B`, `64kB`, `1.5MB`)."""

from __future__ import annotations

import math
import re

_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
UNITS = ", ".join(_SECONDS)
_NUMBER = r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?"
_DURATION = re.compile(rf"^\s*({_NUMBER})\s*([a-z]*)\s*$")
_PART = re.compile(rf"\s*({_NUMBER})\s*([a-z]+)")
_CLOCK = re.compile(r"^\s*(\d{1,3}):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?\s*$")
_RATE = re.compile(rf"^\s*({_NUMBER})\s*/\s*([a-z]+)\s*$")
# The forms of a duration, for the scenario format's JSON Schema.
_UNIT = "|".join(sorted(_SECONDS, key=len, reverse=True))
DURATION_PATTERN = (rf"^\s*(?:{_NUMBER}|(?:{_NUMBER}\s*(?:{_UNIT})\s*)+|"
                    r"\d{1,3}:[0-5]\d(?::[0-5]\d(?:\.\d+)?)?)\s*$")
RATE_PATTERN = rf"^\s*{_NUMBER}\s*/\s*(?:{_UNIT})\s*$"
_EXAMPLES = "write e.g. 300ms, 4s, 2min, 1h, 8h30min or a clock time 08:30"


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds, a string with units (`4s`, `8h30min`) or a
    clock time from time 0 (`08:30`, `08:30:15.250`)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _duration_text(value)
    else:
        raise ValueError(f"{value!r} is not a duration ({_EXAMPLES})")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r}: a duration is a finite number of seconds, 0 or more")
    return seconds


def _duration_text(value: str) -> float:
    clock = _CLOCK.match(value)
    if clock:
        hours, minutes, seconds = clock.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds or 0)
    single = _DURATION.match(value)
    if single:
        number, unit = single.groups()
        return float(number) * _unit(value, unit or "s")
    parts, end = [], 0
    for match in _PART.finditer(value):
        if match.start() != end:
            break
        parts.append(match.groups())
        end = match.end()
    if not parts or value[end:].strip():
        raise ValueError(f"{value!r} is not a duration ({_EXAMPLES}; units: {UNITS})")
    return sum(float(number) * _unit(value, unit) for number, unit in parts)


def _unit(value: str, unit: str) -> float:
    if unit == "m":
        raise ValueError(f"{value!r}: 'm' is ambiguous, write 'min' (or 'ms')")
    if unit not in _SECONDS:
        raise ValueError(f"{value!r}: unknown unit {unit!r} (the units are {UNITS})")
    return _SECONDS[unit]


def parse_rate(value: object) -> float:
    """Events per second from `N/h`, `N/min`, `N/s` or a number per second."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a rate")
    if isinstance(value, (int, float)):
        rate = float(value)
    elif isinstance(value, str):
        match = _RATE.match(value)
        if not match or match.group(2) not in _SECONDS:
            raise ValueError(f"{value!r} is not a rate (write e.g. 120/h, 2/min, 0.5/s; "
                             f"per {', per '.join(_SECONDS)})")
        rate = float(match.group(1)) / _SECONDS[match.group(2)]
    else:
        raise ValueError(f"{value!r} is not a rate (write e.g. 120/h, 2/min, 0.5/s)")
    if not math.isfinite(rate) or rate < 0:
        raise ValueError(f"{value!r}: a rate is a finite number, 0 or more")
    return rate


_BITS = {"bit/s": 1.0, "bps": 1.0, "kbit/s": 1e3, "kbps": 1e3, "mbit/s": 1e6, "mbps": 1e6,
         "gbit/s": 1e9, "gbps": 1e9}
_BITRATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-z/]+)\s*$")


def parse_bitrate(value: object) -> float:
    """Bits per second from `1.2Mbit/s`, `800kbit/s`, `1Gbps`, ... or a number of bit/s."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a bit rate")
    if isinstance(value, (int, float)):
        bits = float(value)
    elif isinstance(value, str):
        match = _BITRATE.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a bit rate (write e.g. 1.2Mbit/s, 800kbit/s, 1Gbit/s)")
        number, unit = match.groups()
        if unit.lower() not in _BITS:
            # Bytes are a common slip (MB/s): refuse rather than guess a factor of 8.
            raise ValueError(f"{value!r}: unknown unit {unit!r} (use bit/s, kbit/s, Mbit/s or Gbit/s)")
        bits = float(number) * _BITS[unit.lower()]
    else:
        raise ValueError(f"{value!r} is not a bit rate (write e.g. 1.2Mbit/s, 800kbit/s, 1Gbit/s)")
    if not math.isfinite(bits) or bits < 0:
        raise ValueError(f"{value!r}: a bit rate is a finite number, 0 or more")
    return bits


def format_seconds(seconds: float) -> str:
    """A short human form: 850ms, 12.3s, 4.5min, 2.1h."""
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 120:
        return f"{seconds:.3g}s"
    if seconds < 7200:
        return f"{seconds / 60:.3g}min"
    return f"{seconds / 3600:.3g}h"


# Sizes in bytes: SI prefixes as rates are quoted (1 kB = 1000 B, like tc's
# rates), binary ones (KiB, MiB) when written so.
_SIZE_PREFIX = {"": 1.0, "k": 1e3, "m": 1e6, "g": 1e9}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([kKmMgG]?)(i?)(B)\s*$")


def parse_size(value: object) -> float:
    """Bytes from `200B`, `64kB`, `1.5MB`, `64KiB` or a number of bytes."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a size")
    if isinstance(value, (int, float)):
        size = float(value)
    elif isinstance(value, str):
        match = _SIZE.match(value)
        if not match:
            hint = (" ('b' is a bit: sizes are in bytes, 'B')"
                    if re.search(r"\d\s*[kKmMgG]?i?b\b", value) else "")
            raise ValueError(f"{value!r} is not a size{hint} (write e.g. 200B, 64kB, 1.5MB)")
        number, prefix, binary, _ = match.groups()
        scale = 1024.0 ** " kmg".index(prefix.lower() or " ") if binary else _SIZE_PREFIX[prefix.lower()]
        size = float(number) * scale
    else:
        raise ValueError(f"{value!r} is not a size (write e.g. 200B, 64kB, 1.5MB)")
    if not math.isfinite(size) or size < 0:
        raise ValueError(f"{value!r}: a size is a finite number of bytes, 0 or more")
    return size
