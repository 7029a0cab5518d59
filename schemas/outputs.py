"""Pandera contracts of the published outputs and of the engine's priced frames.

Each model states its grain and key, and declares its identities as checks, so a run that
breaks one never publishes. Validate with `validate(frame)`: every failure is collected
(`lazy=True`) and reported together.
"""

from typing import Annotated

import pandera.polars as pa
import polars as pl

from schemas.inputs import COUPON_TYPES, FUNDED_BY, PROMOTION_TYPES, REASONS

Money = Annotated[pl.Decimal, 18, 2]
UtcTime = Annotated[pl.Datetime, "us", "UTC"]

STEPS = ("1", "2", "3a", "3b", "4a", "4b", "5")
STEP_TYPES = {
    "1": ("flash_deal", "product_discount"),
    "2": ("product_incentive",),
    "3a": ("seller_bmsm",),
    "3b": ("platform_bmsm",),
    "4a": ("seller_coupon",),
    "4b": ("product_coupon",),
    "5": ("platform_shipping_discount", "seller_shipping_discount"),
}
COUPON_REASON_CODES = (
    "unknown",
    "invalid_promotion",
    "wrong_type",
    "wrong_shop",
    "not_active",
    "condition",
    "opted_out",
    "no_covered_product",
    "min_spend",
)


class DiscountLines(pa.DataFrameModel):
    """One row per (order, SKU, promotion) discount greater than zero; SKU null for shipping (step 5)."""

    order_id: str
    sku_id: str = pa.Field(nullable=True)
    promotion_id: str
    promotion_type: str = pa.Field(isin=list(PROMOTION_TYPES))
    funded_by: str = pa.Field(isin=["seller", "platform"])
    step: str = pa.Field(isin=list(STEPS))
    amount: Money = pa.Field(gt=0)

    class Config:
        strict = True
        unique = ["order_id", "sku_id", "promotion_id", "step"]

    @pa.dataframe_check(name="funded_by_follows_type")
    def funded_by_follows_type(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("promotion_type").replace_strict(FUNDED_BY, return_dtype=pl.String) == pl.col("funded_by"))

    @pa.dataframe_check(name="step_follows_type")
    def step_follows_type(cls, data: pa.PolarsData) -> pl.LazyFrame:
        ok = pl.lit(False)
        for step, types in STEP_TYPES.items():
            ok = ok | ((pl.col("step") == step) & pl.col("promotion_type").is_in(list(types)))
        return data.lazyframe.select(ok)

    @pa.dataframe_check(name="sku_null_only_for_shipping")
    def sku_null_only_for_shipping(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("sku_id").is_null() == (pl.col("step") == "5"))


class BlockedIncentives(pa.DataFrameModel):
    """One row per product incentive that applied to a line but was blocked by a flash deal."""

    order_id: str
    sku_id: str
    incentive_promotion_id: str
    flash_promotion_id: str
    would_be_discount: Money = pa.Field(ge=0)

    class Config:
        strict = True
        unique = ["order_id", "sku_id", "incentive_promotion_id"]


class CouponChecks(pa.DataFrameModel):
    """One row per claimed coupon: `applied`, or `rejected` with the first failing reason."""

    order_id: str
    coupon_type: str = pa.Field(isin=list(COUPON_TYPES))
    coupon_id: str
    status: str = pa.Field(isin=["applied", "rejected"])
    reason: str = pa.Field(nullable=True, isin=list(COUPON_REASON_CODES))
    discount: Money = pa.Field(ge=0)

    class Config:
        strict = True
        unique = ["order_id", "coupon_type"]

    @pa.dataframe_check(name="reason_iff_rejected")
    def reason_iff_rejected(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("reason").is_null() == (pl.col("status") == "applied"))

    @pa.dataframe_check(name="rejected_gives_nothing")
    def rejected_gives_nothing(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("status") == "applied") | (pl.col("discount") == 0))


class CouponRestorations(pa.DataFrameModel):
    """One row per fully refunded order whose applied platform product coupon goes back to the buyer."""

    order_id: str = pa.Field(unique=True)
    coupon_id: str
    refund_id: str
    refunded_at: UtcTime
    status: str = pa.Field(isin=["usable", "expired"])

    class Config:
        strict = True


class RejectedRows(pa.DataFrameModel):
    """One row per rejected input row: its table, 1-based row number in its file, key, column, reason and value."""

    table: str
    row_number: int = pa.Field(ge=1)
    key: str = pa.Field(nullable=True)
    column: str
    reason: str = pa.Field(isin=list(REASONS))
    value: str = pa.Field(nullable=True)

    class Config:
        strict = True
        unique = ["table", "row_number"]


class PricedLines(pa.DataFrameModel):
    """Engine contract, one row per accepted order line: list − seller − platform = final ≥ 0."""

    order_id: str
    sku_id: str
    quantity: int = pa.Field(ge=1)
    unit_price_cents: int = pa.Field(gt=0)
    list_amount_cents: int
    seller_discount_cents: int = pa.Field(ge=0)
    platform_discount_cents: int = pa.Field(ge=0)
    final_amount_cents: int = pa.Field(ge=0)

    class Config:
        unique = ["order_id", "sku_id"]

    @pa.dataframe_check(name="list_less_discounts_is_final")
    def identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("list_amount_cents") - pl.col("seller_discount_cents") - pl.col("platform_discount_cents") == pl.col("final_amount_cents")
        )

    @pa.dataframe_check(name="list_is_price_times_quantity")
    def list_amount(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("unit_price_cents") * pl.col("quantity") == pl.col("list_amount_cents"))


class OrderShipping(pa.DataFrameModel):
    """Engine contract, one row per accepted order: fee = platform + seller discount + customer-paid."""

    order_id: str = pa.Field(unique=True)
    shipping_fee_cents: int = pa.Field(ge=0)
    platform_shipping_discount_cents: int = pa.Field(ge=0)
    seller_shipping_discount_cents: int = pa.Field(ge=0)
    customer_shipping_cents: int = pa.Field(ge=0)

    @pa.dataframe_check(name="fee_is_split_exactly")
    def identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("shipping_fee_cents")
            == pl.col("platform_shipping_discount_cents") + pl.col("seller_shipping_discount_cents") + pl.col("customer_shipping_cents")
        )
