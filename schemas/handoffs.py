"""Contracts of the frames one transform hands the next, money in integer cents.

The published tables (outputs.py) carry Decimal money; these carry the `*_cents` the engine
computes with. A transform takes its column names and dtypes from here through `dtypes()`,
so a frame's shape is declared once, in a Pandera model, and not again as a dict in the code.
"""

from functools import cache

import pandera.polars as pa
import polars as pl

from schemas.inputs import FUNDED_BY, PROMOTION_TYPES, STEP_OF, STEPS
from schemas.outputs import BREAK_TYPES, PROBABLE_CAUSES
from schemas.types import UtcTime


@cache
def dtypes(model: type[pa.DataFrameModel]) -> dict[str, pl.DataType]:
    """The model's columns and their Polars dtypes, in the model's order (for `select` + `cast`)."""
    return dict(model.empty().schema)


def empty(model: type[pa.DataFrameModel]) -> pl.DataFrame:
    """A frame of no rows in the model's shape."""
    return pl.DataFrame(schema=dtypes(model))


class DiscountLineCents(pa.DataFrameModel):
    """One row per (order, SKU, promotion) discount greater than zero, in cents; SKU null for
    shipping (step 5). Published as `discount_lines` with `amount` in dollars."""

    order_id: str
    sku_id: str = pa.Field(nullable=True)
    promotion_id: str
    promotion_type: str = pa.Field(isin=list(PROMOTION_TYPES))
    funded_by: str = pa.Field(isin=sorted(set(FUNDED_BY.values())))
    step: str = pa.Field(isin=list(STEPS))
    amount_cents: int = pa.Field(gt=0)

    @pa.dataframe_check(name="step_follows_type")
    def step_follows_type(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("promotion_type").replace_strict(STEP_OF, default="", return_dtype=pl.String) == pl.col("step")
        )


class RefundAmounts(pa.DataFrameModel):
    """One row per accepted refund: the gross it refunds and the discounts, tax and shipping it returns."""

    refund_id: str = pa.Field(unique=True)
    order_id: str
    sku_id: str
    refunded_at: UtcTime
    quantity: int = pa.Field(ge=0)
    is_shipping_refunded: bool
    gross_refund_cents: int
    seller_discount_refund_cents: int
    platform_discount_refund_cents: int
    sales_tax_refund_cents: int
    product_refund_cents: int
    customer_shipping_refund_cents: int
    platform_shipping_refund_cents: int


class BreakCents(pa.DataFrameModel):
    """One row per nonzero difference at (shop, statement date, order, column), in cents.
    Published as `recon_breaks`, with the date as text and the money in dollars."""

    shop_id: str
    statement_date: pl.Date
    order_id: str = pa.Field(nullable=True)
    column: str
    expected_cents: int
    reported_cents: int
    difference_cents: int = pa.Field(ne=0)
    within_tolerance: bool
    break_type: str = pa.Field(isin=list(BREAK_TYPES))
    probable_cause: str = pa.Field(nullable=True, isin=list(PROBABLE_CAUSES))
