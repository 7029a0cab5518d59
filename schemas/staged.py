"""Pandera contracts of the staged input tables (docs/stacking.md): grain, key, canonical types, value rules.

`schemas/inputs.py` says how raw columns are read; these models state what staging guarantees
to the business logic afterwards (money in integer cents, rates in millionths, UTC times), and
the flow validates every staged table on the full data before anything is computed from it.
"""

from typing import Annotated

import pandera.polars as pa
import polars as pl

from schemas.checks import unique_rows
from schemas.inputs import CHANNELS, CONDITIONS, DISCOUNT_KINDS, PLATFORM_TYPES, PROMOTION_TYPES

UtcTime = Annotated[pl.Datetime, "us", "UTC"]
PPM = 1_000_000


class StagedOrders(pa.DataFrameModel):
    """One row per accepted order; key `order_id`."""

    row_number: int = pa.Field(ge=1)
    order_id: str
    shop_id: str
    created_at: UtcTime
    currency: str
    channel: str = pa.Field(isin=list(CHANNELS))
    buyer_is_new: bool
    shipping_fee_cents: int = pa.Field(ge=0)
    actual_shipping_fee_cents: int = pa.Field(ge=0)
    sales_tax_cents: int = pa.Field(ge=0)
    seller_coupon_id: str = pa.Field(nullable=True)
    platform_coupon_id: str = pa.Field(nullable=True)
    delivered_at: UtcTime = pa.Field(nullable=True)
    affiliate_commission_rate_ppm: int = pa.Field(nullable=True, ge=0, le=PPM)

    class Config:
        strict = True

    @pa.dataframe_check(name="unique_key")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return unique_rows(data, ["order_id"])

    @pa.dataframe_check(name="delivered_not_before_created")
    def delivered_after_created(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("delivered_at").is_null() | (pl.col("delivered_at") >= pl.col("created_at"))
        )


class StagedOrderLines(pa.DataFrameModel):
    """One row per accepted order SKU; key (`order_id`, `sku_id`)."""

    row_number: int = pa.Field(ge=1)
    order_id: str
    sku_id: str
    product_id: str
    product_name: str
    sku_name: str
    quantity: int = pa.Field(ge=1)
    unit_price_cents: int = pa.Field(gt=0)

    class Config:
        strict = True

    @pa.dataframe_check(name="unique_key")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return unique_rows(data, ["order_id", "sku_id"])


class StagedPromotions(pa.DataFrameModel):
    """One row per accepted promotion tier; key (`promotion_id`, `tier`)."""

    row_number: int = pa.Field(ge=1)
    promotion_id: str
    tier: int = pa.Field(ge=1)
    promotion_type: str = pa.Field(isin=list(PROMOTION_TYPES))
    shop_id: str = pa.Field(nullable=True)
    starts_at: UtcTime
    ends_at: UtcTime
    discount_kind: str = pa.Field(isin=list(DISCOUNT_KINDS))
    discount_value_x100: int = pa.Field(nullable=True, ge=0)
    min_spend_cents: int = pa.Field(nullable=True, ge=0)
    min_quantity: int = pa.Field(nullable=True, ge=1)
    max_discount_cents: int = pa.Field(nullable=True, ge=0)
    condition: str = pa.Field(isin=list(CONDITIONS))
    campaign_id: str = pa.Field(nullable=True)
    funded_by: str = pa.Field(isin=["seller", "platform"])

    class Config:
        strict = True
        unique = ["promotion_id", "tier"]

    @pa.dataframe_check(name="ends_after_start")
    def window(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("ends_at") > pl.col("starts_at"))

    @pa.dataframe_check(name="percent_in_range")
    def percent(cls, data: pa.PolarsData) -> pl.LazyFrame:
        value = pl.col("discount_value_x100")
        return data.lazyframe.select((pl.col("discount_kind") != "percent_off") | ((value > 0) & (value <= 10_000)))


class StagedPromotionProducts(pa.DataFrameModel):
    """One row per accepted (promotion, product) scope pair."""

    row_number: int = pa.Field(ge=1)
    promotion_id: str
    product_id: str

    class Config:
        strict = True
        unique = ["promotion_id", "product_id"]


class StagedOptOutEvents(pa.DataFrameModel):
    """One row per settings change, in file order (`event_seq`)."""

    row_number: int = pa.Field(ge=1)
    shop_id: str
    promotion_type: str = pa.Field(isin=list(PLATFORM_TYPES))
    changed_at: UtcTime
    participating: bool
    event_seq: int = pa.Field(ge=1, unique=True)

    class Config:
        strict = True


class StagedRefunds(pa.DataFrameModel):
    """One row per accepted refund of one SKU; key `refund_id`."""

    row_number: int = pa.Field(ge=1)
    refund_id: str = pa.Field(unique=True)
    order_id: str
    sku_id: str
    quantity: int = pa.Field(ge=1)
    refunded_at: UtcTime
    refund_shipping: bool

    class Config:
        strict = True


class StagedFeeSchedule(pa.DataFrameModel):
    """One row per fee rate change; key `effective_from`."""

    effective_from: pl.Date = pa.Field(unique=True)
    referral_fee_rate_ppm: int = pa.Field(ge=0, le=PPM)
    refund_admin_fee_rate_ppm: int = pa.Field(ge=0, le=PPM)
    refund_admin_fee_cap_cents: int = pa.Field(ge=0)

    class Config:
        strict = True


STAGED_MODELS = {
    "orders": StagedOrders,
    "order_lines": StagedOrderLines,
    "promotions": StagedPromotions,
    "promotion_products": StagedPromotionProducts,
    "opt_out_events": StagedOptOutEvents,
    "refunds": StagedRefunds,
    "fee_schedule": StagedFeeSchedule,
}
