"""What a run covers: the statement-date window from `days_back` or a range, and the lock on its output."""

from datetime import UTC, date, datetime

import pytest

from publish import store
from transforms.run_scope import ScopeError, catch_up, statement_window


def test_days_back_counts_complete_utc_days_before_as_of():
    nightly = datetime(2026, 10, 2, 2, 30, tzinfo=UTC)
    assert statement_window(1, None, None, nightly) == (date(2026, 10, 1), date(2026, 10, 1))
    assert statement_window(7, None, None, nightly) == (date(2026, 9, 25), date(2026, 10, 1))
    # Just before midnight UTC the day is not complete yet: yesterday is still the day before.
    assert statement_window(1, None, None, datetime(2026, 10, 2, 23, 59, tzinfo=UTC)) == (
        date(2026, 10, 1),
        date(2026, 10, 1),
    )


@pytest.mark.parametrize("days_back", [800_000, 10**11, 2**63])
def test_days_back_beyond_the_calendar_means_from_its_first_day(days_back):
    # The window is a filter, never a list of days: its size costs nothing, and no value overflows.
    as_of = datetime(2026, 10, 2, tzinfo=UTC)
    assert statement_window(days_back, None, None, as_of) == (date.min, date(2026, 10, 1))


def test_days_back_overrides_a_range_and_a_range_passes_through():
    as_of = datetime(2026, 10, 2, tzinfo=UTC)
    assert statement_window(1, date(2026, 1, 1), date(2026, 1, 31), as_of) == (date(2026, 10, 1), date(2026, 10, 1))
    assert statement_window(None, date(2026, 1, 1), None, as_of) == (date(2026, 1, 1), None)
    assert statement_window(None, None, None, as_of) == (None, None)


def test_a_backwards_range_or_no_day_is_an_error():
    as_of = datetime(2026, 10, 2, tzinfo=UTC)
    with pytest.raises(ScopeError, match="statement_from 2026-02-01 is after statement_to 2026-01-01"):
        statement_window(None, date(2026, 2, 1), date(2026, 1, 1), as_of)
    with pytest.raises(ScopeError, match="days_back must be at least 1"):
        statement_window(0, None, None, as_of)


def test_the_lock_names_its_holder_and_is_released(tmp_path):
    with (
        store.run_lock(tmp_path, "first"),
        pytest.raises(store.RunLocked, match=rf"{tmp_path} is in use by run first \(pid \d+ on .+, since .+ UTC\)"),
        store.run_lock(tmp_path, "second"),
    ):
        pass
    with store.run_lock(tmp_path, "third"):
        assert (tmp_path / store.LOCK_NAME).read_text().startswith("run third")


@pytest.mark.parametrize(
    ("covered_to", "first", "caught_up"),
    [
        (None, date(2026, 10, 5), []),  # no run published yet: yesterday only
        (date(2026, 10, 4), date(2026, 10, 5), []),  # last night's run covered the day before
        (date(2026, 10, 7), date(2026, 10, 5), []),  # a later backfill covered more: nothing to add
        (date(2026, 10, 2), date(2026, 10, 3), [date(2026, 10, 3), date(2026, 10, 4)]),  # two nights missed
    ],
)
def test_a_nightly_window_reaches_back_to_the_last_covered_date(covered_to, first, caught_up):
    start, added = catch_up(date(2026, 10, 5), date(2026, 10, 5), covered_to)
    assert (start, added) == (first, caught_up)
