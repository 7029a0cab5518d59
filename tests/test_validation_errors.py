"""A failed output validation says how many cases and rows failed and names the first few."""

import polars as pl
import pytest

from flows.steps import FAILURES_SHOWN, RunFailed, check
from schemas.handoffs import DiscountLineCents, dtypes


def _lines(rows: list[tuple]) -> pl.DataFrame:
    columns = list(dtypes(DiscountLineCents))
    return pl.DataFrame(rows, schema=dtypes(DiscountLineCents), orient="row").select(columns)


GOOD = ("O1", "K1", "P1", "seller_coupon", "seller", "4a", 100)


def test_a_valid_frame_passes_and_names_its_contract():
    assert check("discount lines", DiscountLineCents, _lines([GOOD])) == "DiscountLineCents"


def test_every_failure_is_counted_and_the_first_few_named_with_row_and_value():
    rows = [GOOD] + [("O2", "K1", "P1", "seller_coupon", "seller", "4a", -i) for i in range(1, 8)]
    with pytest.raises(RunFailed) as failed:
        check("discount lines", DiscountLineCents, _lines(rows))
    message = str(failed.value)
    # Seven rows (2nd to 8th) each break one check: amount_cents must be greater than 0.
    assert message.startswith("discount lines failed validation: 7 failures in 7 rows: ")
    assert "check 'greater_than(0)' on 'amount_cents' at row 2: '-1'" in message
    assert message.count("greater_than(0)") == FAILURES_SHOWN
    assert message.endswith(f"; and {7 - FAILURES_SHOWN} more; nothing was published")
    assert "\n" not in message


def test_a_row_failing_two_checks_counts_once_among_the_rows():
    bad = ("O2", "K1", "P1", "seller_coupon", "seller", "4b", 0)  # a seller coupon is step 4a; zero is no discount
    with pytest.raises(RunFailed, match=r"2 failures in 1 row: .*step_follows_type"):
        check("discount lines", DiscountLineCents, _lines([GOOD, bad]))
