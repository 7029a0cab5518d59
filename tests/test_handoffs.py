"""The engine's frames in cents and the published tables in dollars describe the same columns."""

import polars as pl
import pytest
from pandera.errors import SchemaErrors

from schemas.handoffs import BreakCents, DiscountLineCents, dtypes, empty
from schemas.outputs import DiscountLines, ReconBreaks


def _published_name(column: str) -> str:
    # Money leaves in dollars without its suffix; the statement date leaves as UTC text.
    return {"statement_date": "statement_date_utc"}.get(column, column.removesuffix("_cents"))


def test_discount_lines_in_cents_are_the_published_discount_lines():
    assert [_published_name(c) for c in dtypes(DiscountLineCents)] == list(dtypes(DiscountLines))
    assert dtypes(DiscountLineCents)["amount_cents"] == pl.Int64


def test_breaks_in_cents_are_the_published_breaks():
    assert [_published_name(c) for c in dtypes(BreakCents)] == list(dtypes(ReconBreaks))
    assert dtypes(BreakCents)["statement_date"] == pl.Date


def test_a_model_gives_an_empty_frame_of_its_shape():
    frame = empty(DiscountLineCents)
    assert frame.height == 0
    DiscountLineCents.validate(frame)


def test_the_step_must_follow_the_promotion_type():
    row = {
        "order_id": ["O1"],
        "sku_id": ["K1"],
        "promotion_id": ["P1"],
        "promotion_type": ["seller_coupon"],
        "funded_by": ["seller"],
        "step": ["4b"],  # a seller coupon is step 4a
        "amount_cents": [100],
    }
    frame = pl.DataFrame(row, schema=dtypes(DiscountLineCents))
    with pytest.raises(SchemaErrors, match="step_follows_type"):
        DiscountLineCents.validate(frame, lazy=True)
