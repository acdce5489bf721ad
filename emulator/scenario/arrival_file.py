"""Arrivals read from a CSV file: one row per callback, at a recorded time.

The file has a header row. `at` is required: seconds from the start of the
run (`3600`), a duration (`1h`, `90min`), or a clock time from the start of
the day (`08:15`, `08:15:30.5`). `service` and `person` are optional columns;
an empty cell falls back to the scenario's `arrivals.services` (drawn by
weight) and `arrivals.person`. Rows need not be in order. Any bad row is
refused with the file, its line and the column at fault.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from ..models.arrivals import RecordedArrival
from ..units import parse_duration

COLUMNS = ("at", "service", "person")
MAX_ROWS = 10_000_000
_CLOCK = re.compile(r"^\s*(\d{1,3}):([0-5]\d)(?::([0-5]\d(?:\.\d+)?))?\s*$")


ArrivalRow = RecordedArrival


@dataclass(frozen=True)
class ArrivalFile:
    """The rows of an arrivals file, and where it is."""

    path: Path
    rows: tuple[ArrivalRow, ...]       # sorted by time

    def __len__(self) -> int:
        return len(self.rows)


def read_arrivals(path: Path) -> ArrivalFile:
    """The file's rows, sorted by time; `ValueError` naming file, line and column."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            _check_header(path, reader.fieldnames)
            rows = []
            for record in reader:
                rows.append(_row(path, reader.line_num, record))
                if len(rows) > MAX_ROWS:
                    raise ValueError(f"{path}: more than {MAX_ROWS:,} arrivals (split the day "
                                     "into several runs)")
    except UnicodeDecodeError as error:
        raise ValueError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); "
                         "save the CSV as UTF-8") from None
    except OSError as error:
        raise ValueError(f"cannot read arrivals file {str(path)!r}: {error.strerror}") from None
    except csv.Error as error:
        raise ValueError(f"{path}: not a CSV file: {error}") from None
    if not rows:
        raise ValueError(f"{path}: no arrivals in the file (a header row, then one row per callback)")
    return ArrivalFile(path, tuple(sorted(rows, key=lambda row: row.at)))


def _check_header(path: Path, names: Sequence[str] | None) -> None:
    if not names:
        raise ValueError(f"{path}: the file is empty (it needs a header row: at,service,person)")
    if "at" not in names:
        raise ValueError(f"{path}:1: no 'at' column in the header {','.join(names)!r}")
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise ValueError(f"{path}:1: unknown column {unknown[0]!r} (the columns are "
                         f"{', '.join(COLUMNS)})")


def _row(path: Path, line: int, record: dict[str, str | None]) -> ArrivalRow:
    if None in record:                          # DictReader's key for extra cells
        raise ValueError(f"{path}:{line}: more cells than columns in the header")
    text = (record.get("at") or "").strip()
    try:
        at = _time(text)
    except ValueError as error:
        raise ValueError(f"{path}:{line}: at: {error}") from None
    return ArrivalRow(at, (record.get("service") or "").strip() or None,
                      (record.get("person") or "").strip() or None, line)


def _time(text: str) -> float:
    if not text:
        raise ValueError("empty (a time is needed: 3600, 1h or 08:15:00)")
    clock = _CLOCK.match(text)
    if clock:
        hours, minutes, seconds = clock.groups()
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds or 0)
    try:
        return parse_duration(float(text) if _is_number(text) else text)
    except ValueError as error:
        raise ValueError(f"{error} (or a clock time, 08:15:00)") from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
