"""Durations (`300ms`, `4s`, `2min`, `1h`), rates (`120/h`, `2/min`, `0.5/s`) and
bit rates (`1.2Mbit/s`, `800kbit/s`, `1Gbps`)."""

from __future__ import annotations

import math
import re

_SECONDS = {"ms": 0.001, "s": 1.0, "sec": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0}
_DURATION = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([a-z]*)\s*$")
_RATE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*/\s*([a-z]+)\s*$")


def parse_duration(value: object) -> float:
    """Seconds from a number of seconds or a string with a unit."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration")
    if isinstance(value, (int, float)):
        seconds = float(value)
    elif isinstance(value, str):
        match = _DURATION.match(value)
        if not match:
            raise ValueError(f"{value!r} is not a duration (write e.g. 300ms, 4s, 2min, 1h)")
        number, unit = match.groups()
        if unit == "m":
            raise ValueError(f"{value!r}: 'm' is ambiguous, write 'min' (or 'ms')")
        if unit and unit not in _SECONDS:
            raise ValueError(f"{value!r}: unknown unit {unit!r} (use ms, s, min, h or d)")
        seconds = float(number) * _SECONDS[unit or "s"]
    else:
        raise ValueError(f"{value!r} is not a duration (write e.g. 300ms, 4s, 2min, 1h)")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{value!r}: a duration is a finite number of seconds, 0 or more")
    return seconds


def parse_rate(value: object) -> float:
    """Events per second from `N/h`, `N/min`, `N/s` or a number per second."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a rate")
    if isinstance(value, (int, float)):
        rate = float(value)
    elif isinstance(value, str):
        match = _RATE.match(value)
        if not match or match.group(2) not in _SECONDS:
            raise ValueError(f"{value!r} is not a rate (write e.g. 120/h, 2/min, 0.5/s)")
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
