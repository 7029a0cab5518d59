"""What a run covers: its window of shops and statement dates, and its reconciliation tolerances."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import polars as pl

from schemas.layout import ORDER_DETAILS_MONEY


class ScopeError(ValueError):
    """A run's parameters that cannot describe a run; the message is one line a person can act on."""


@dataclass(frozen=True)
class Window:
    """What a run covers: the shops (None: every shop of the input) and statement dates (None: open)."""

    shops: list[str] | None = None
    statement_from: date | None = None
    statement_to: date | None = None

    def covers(self, day: pl.Expr, as_text: bool = True) -> pl.Expr:
        """True for rows whose statement date (`YYYY-MM-DD` text, or a Date) is inside the window."""

        def value(bound: date) -> str | date:
            return bound.isoformat() if as_text else bound

        keep = pl.lit(True)
        if self.statement_from is not None:
            keep &= day >= value(self.statement_from)
        if self.statement_to is not None:
            keep &= day <= value(self.statement_to)
        return keep


def tolerance_cents(tolerances: dict[str, Decimal] | None) -> dict[str, int]:
    """Per-column tolerances (label → dollars) as exact cents; an unknown label or sub-cent value is an error."""
    cents = {}
    for label, amount in (tolerances or {}).items():
        if label not in ORDER_DETAILS_MONEY:
            raise ScopeError(f"tolerance for unknown column {label!r}; use an Order details money label")
        value = Decimal(str(amount)) * 100
        if value != value.to_integral_value() or value < 0:
            raise ScopeError(f"tolerance for {label!r} must be a non-negative amount in whole cents, got {amount}")
        cents[label] = int(value)
    return cents


def statement_window(
    days_back: int | None, statement_from: date | None, statement_to: date | None, as_of: datetime
) -> tuple[date | None, date | None]:
    """The statement dates a run covers: the last `days_back` complete UTC days before `as_of`, or the range given."""
    if days_back is None:
        if statement_from and statement_to and statement_from > statement_to:
            raise ScopeError(f"statement_from {statement_from} is after statement_to {statement_to}")
        return statement_from, statement_to
    if days_back < 1:
        raise ScopeError(f"days_back must be at least 1 (1 = yesterday), got {days_back}")
    today = as_of.astimezone(UTC).date()
    # More days than the calendar holds before `as_of` (days_back=10**11, say) means from its first day.
    return today - timedelta(days=min(days_back, (today - date.min).days)), today - timedelta(days=1)


def catch_up(first: date, last: date, covered_to: date | None) -> tuple[date, list[date]]:
    """A nightly window (`first`…`last`) widened back to the day after the last statement date a
    published run covered, so a missed or failed night is published by the next one: the new
    first date, and the dates caught up (before `first`). Nothing to catch up without a past run,
    or when it covered up to `first` or later."""
    if covered_to is None or covered_to >= first - timedelta(days=1):
        return first, []
    start = covered_to + timedelta(days=1)
    return start, [start + timedelta(days=i) for i in range((first - start).days)]
