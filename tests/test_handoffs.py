"""The engine's frames in cents and the published tables in dollars describe the same columns."""

import polars as pl
import pytest
from pandera.errors import SchemaErrors

from schemas.handoffs import BreakCents, DiscountLineCents, dtypes, empty
from schemas.outputs import OUTPUT_TABLES, DiscountLines, ReconBreaks
from tests.conftest import run


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


def test_a_run_publishes_every_declared_output_table_in_the_declared_order():
    # One order, no promotions: every table is published, most of them empty.
    results = run(
        orders=[
            {
                "order_id": "O1",
                "shop_id": "S1",
                "created_at": "2026-10-01T10:00:00Z",
                "delivered_at": "2026-10-03T10:00:00Z",
                "shipping_fee": "0",
            }
        ],
        order_lines=[{"order_id": "O1", "sku_id": "K1", "product_id": "P", "quantity": 1, "unit_price": "10.00"}],
    )
    assert list(results.published()) == [table.name for table in OUTPUT_TABLES if table.made_per_partition]
