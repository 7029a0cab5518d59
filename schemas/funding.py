"""Contracts of `funding_breaks` (TikTok's own per-SKU funding split against the engine's
discount lines) and of its per-statement totals, `owed_by_statement` (docs/funding.md).

Grain and key: one row per (order, SKU) for product discounts and per (order, shipping) for
shipping discounts (`sku_id` null), only where TikTok's split differs from the engine's. The
identities are declared here, so a frame that breaks one is never published.
"""

import pandera.polars as pa
import polars as pl

from schemas.checks import unique_rows
from schemas.types import Money

LEVELS = ("sku", "shipping")
# In the order they are tried: a break gets the first whose evidence holds (docs/funding.md).
FUNDING_CAUSES = ("opt_out_timing", "flash_deal_priority", "coupon_rejected", "assumption")
PLATFORM_CAUSES = ("opt_out_timing", "flash_deal_priority")  # causes that need the platform side to differ
SORT_KEY = ["shop_id", "statement_date", "order_id", "sku_id"]  # nulls last


def _d(column: str) -> pl.Expr:
    """A money column widened, so that sums and differences of Decimal(18,2) compare exactly."""
    return pl.col(column).cast(pl.Decimal(38, 2))


def _charged(shortfall: pl.Expr, excess: pl.Expr) -> pl.Expr:
    """min(shortfall, excess) when both are positive, else 0: the part of a difference on one side
    that the other side's opposite difference accounts for."""
    zero = pl.lit(0, pl.Decimal(38, 2))
    return pl.when((shortfall > 0) & (excess > 0)).then(pl.min_horizontal(shortfall, excess)).otherwise(zero)


class FundingBreaks(pa.DataFrameModel):
    """One row per (order, SKU) or (order, shipping) whose seller- or platform-funded discount as
    TikTok reported it differs from the engine's `discount_lines`; differences are reported −
    expected. Sorted by shop, statement date (unsettled last), order, SKU (shipping last)."""

    shop_id: str
    statement_date: pl.Date = pa.Field(nullable=True)
    statement_id: str = pa.Field(nullable=True)
    order_id: str
    sku_id: str = pa.Field(nullable=True)
    level: str = pa.Field(isin=list(LEVELS))
    expected_seller_discount: Money = pa.Field(ge=0)
    reported_seller_discount: Money = pa.Field(ge=0)
    seller_difference: Money
    expected_platform_discount: Money = pa.Field(ge=0)
    reported_platform_discount: Money = pa.Field(ge=0)
    platform_difference: Money
    tiktok_owes: Money = pa.Field(ge=0)
    over_funded: Money = pa.Field(ge=0)
    probable_cause: str = pa.Field(nullable=True, isin=list(FUNDING_CAUSES))
    assumed: str = pa.Field(nullable=True, str_length={"min_value": 1})

    class Config:
        strict = True
        ordered = True

    @pa.dataframe_check(name="unique_key")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        # Shop and statement follow from the order, so a unique sort key is a unique (order, SKU).
        return unique_rows(data, SORT_KEY, nulls_last=True)

    @pa.dataframe_check(name="seller_difference_is_reported_less_expected")
    def seller_difference_identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            _d("seller_difference") == _d("reported_seller_discount") - _d("expected_seller_discount")
        )

    @pa.dataframe_check(name="platform_difference_is_reported_less_expected")
    def platform_difference_identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            _d("platform_difference") == _d("reported_platform_discount") - _d("expected_platform_discount")
        )

    @pa.dataframe_check(name="a_difference_is_nonzero")
    def some_difference(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("seller_difference") != 0) | (pl.col("platform_difference") != 0))

    @pa.dataframe_check(name="sku_null_only_for_shipping")
    def sku_null_only_for_shipping(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("sku_id").is_null() == (pl.col("level") == "shipping"))

    @pa.dataframe_check(name="tiktok_owes_is_platform_shortfall_charged_to_seller")
    def tiktok_owes_identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_d("tiktok_owes") == _charged(-_d("platform_difference"), _d("seller_difference")))

    @pa.dataframe_check(name="over_funded_is_platform_excess_spared_to_seller")
    def over_funded_identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_d("over_funded") == _charged(_d("platform_difference"), -_d("seller_difference")))

    @pa.dataframe_check(name="platform_causes_need_a_platform_difference")
    def platform_causes(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            ~pl.col("probable_cause").is_in(list(PLATFORM_CAUSES)).fill_null(False)
            | (pl.col("platform_difference") != 0)
        )

    @pa.dataframe_check(name="assumed_orders_have_a_cause")
    def assumed_has_cause(cls, data: pa.PolarsData) -> pl.LazyFrame:
        # `assumption` is the last cause tried: an order with assumptions always gets one.
        return data.lazyframe.select(pl.col("assumed").is_null() | pl.col("probable_cause").is_not_null())

    @pa.dataframe_check(name="assumption_cause_needs_assumed")
    def assumption_needs_assumed(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            (pl.col("probable_cause") != "assumption").fill_null(True) | pl.col("assumed").is_not_null()
        )


class OwedByStatement(pa.DataFrameModel):
    """One row per (shop, statement) with funding breaks (statement null: orders not settled yet):
    what TikTok owes the seller and what it over-funded, and how many breaks."""

    shop_id: str
    statement_id: str = pa.Field(nullable=True)
    statement_date: pl.Date = pa.Field(nullable=True)
    tiktok_owes: Money = pa.Field(ge=0)
    over_funded: Money = pa.Field(ge=0)
    count_breaks: int = pa.Field(ge=1)

    class Config:
        strict = True
        ordered = True

    @pa.dataframe_check(name="unique_key")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return unique_rows(data, ["shop_id", "statement_date", "statement_id"], nulls_last=True)
