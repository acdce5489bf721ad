"""Streamed statistics: what a load run's numbers rest on."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator.measure.series import EXACT_LIMIT, Series

values = st.lists(st.floats(min_value=0.0, max_value=1e5, allow_nan=False), max_size=60)


def series_of(xs: list[float]) -> Series:
    series = Series()
    for x in xs:
        series.add(x)
    return series


def test_a_few_values_give_exact_percentiles() -> None:
    xs = [0.5, 3.0, 1.0, 7.25, 2.0]
    series = series_of(xs)
    assert series.quantiles([0, 50, 95, 100]) == pytest.approx(np.percentile(xs, [0, 50, 95, 100]))
    assert (series.count, series.mean, series.peak) == (5, pytest.approx(2.75), 7.25)


def test_an_empty_series_says_nothing() -> None:
    series = Series()
    assert (series.count, series.mean, series.quantiles([50])) == (0, None, [])
    assert series.histogram() == {"edges": [], "counts": []}


@pytest.mark.parametrize("n", [EXACT_LIMIT + 1, 50_000, 200_003])
def test_many_values_keep_percentiles_within_the_bin_width(n: int) -> None:
    # Lognormal latencies over five decades; the bins are ~0.5 % wide, so a
    # percentile read from them is within 0.5 % of the exact one (1 % allowed
    # for the rank rounding at the bin's edge).
    xs = np.random.default_rng(n).lognormal(np.log(8.0), 1.2, n)
    series = series_of(xs.tolist())
    qs = [1, 50, 95, 99, 99.9]
    assert series.quantiles(qs) == pytest.approx(np.percentile(xs, qs), rel=0.01)
    assert series.count == n
    assert series.mean == pytest.approx(xs.mean(), rel=1e-9)
    assert series.peak == xs.max()
    assert sum(series.histogram(bins=40)["counts"]) == n


def test_values_at_or_below_a_millisecond_share_the_first_bin() -> None:
    series = series_of([0.0] * EXACT_LIMIT + [1e-4, 1e-3, 10.0])
    assert series.quantiles([50]) == [pytest.approx(5e-4)]
    assert series.peak == 10.0


@settings(max_examples=60, deadline=None)
@given(st.lists(values, min_size=1, max_size=4), st.integers(0, 2 * EXACT_LIMIT))
def test_merging_is_adding_every_value(parts: list[list[float]], padding: int) -> None:
    # Padding one part pushes some merges past the exact limit, into the bins.
    parts[0] = parts[0] + [1.0] * padding
    pooled, alone = Series(), series_of([x for part in parts for x in part])
    for part in parts:
        pooled.merge(series_of(part))
    assert pooled.count == alone.count
    assert pooled.peak == alone.peak
    assert pooled.mean == pytest.approx(alone.mean)
    assert pooled.quantiles([5, 50, 99]) == pytest.approx(alone.quantiles([5, 50, 99]))


def test_a_value_that_is_not_a_number_is_refused_and_nothing_is_lost() -> None:
    series = series_of([1.0] * EXACT_LIMIT)
    with pytest.raises(ValueError, match="only finite numbers"):
        series.add(float("nan"))                # the fold into bins finds it
    assert series.count == EXACT_LIMIT + 1      # the block was kept, not dropped
    with pytest.raises(ValueError, match="only finite numbers"):
        series.quantiles([50])                  # and it is said again, not hidden
