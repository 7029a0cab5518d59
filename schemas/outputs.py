"""Pandera contracts of the published outputs and of the engine's priced frames.

Each model states its grain and key, and declares its identities as checks, so a run that
breaks one never publishes. Validate with `validate(frame)`: every failure is collected
(`lazy=True`) and reported together.
"""

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from schemas.checks import unique_rows
from schemas.funding import FundingBreaks
from schemas.inputs import COUPON_TYPES, FUNDED_BY, PROMOTION_TYPES, REASONS, STEP_OF, STEPS
from schemas.journal import JournalLines
from schemas.layout import (
    FEES_PARTS,
    NET_SALES_PARTS,
    ORDER_DETAILS_CONSTANTS,
    ORDER_DETAILS_INT,
    ORDER_DETAILS_LABELS,
    ORDER_DETAILS_TEXT,
    SHIPPING_PARTS,
    STATEMENTS_LABELS,
    STATEMENTS_MONEY,
    snake,
)
from schemas.types import Money, UtcTime

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

    @pa.dataframe_check(name="unique_key")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return unique_rows(data, ["order_id", "step", "sku_id", "promotion_id"], nulls_last=True)

    @pa.dataframe_check(name="funded_by_follows_type")
    def funded_by_follows_type(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("promotion_type").replace_strict(FUNDED_BY, return_dtype=pl.String) == pl.col("funded_by")
        )

    @pa.dataframe_check(name="step_follows_type")
    def step_follows_type(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("promotion_type").replace_strict(STEP_OF, default="", return_dtype=pl.String) == pl.col("step")
        )

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

    @pa.dataframe_check(name="unique_key")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return unique_rows(data, ["order_id", "sku_id"])

    @pa.dataframe_check(name="list_less_discounts_is_final")
    def identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("list_amount_cents") - pl.col("seller_discount_cents") - pl.col("platform_discount_cents")
            == pl.col("final_amount_cents")
        )

    @pa.dataframe_check(name="list_is_price_times_quantity")
    def list_amount(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("unit_price_cents") * pl.col("quantity") == pl.col("list_amount_cents"))


class OrderShipping(pa.DataFrameModel):
    """Engine contract, one row per accepted order: fee = platform + seller discount + customer-paid."""

    order_id: str
    shipping_fee_cents: int = pa.Field(ge=0)
    platform_shipping_discount_cents: int = pa.Field(ge=0)
    seller_shipping_discount_cents: int = pa.Field(ge=0)
    customer_shipping_cents: int = pa.Field(ge=0)

    @pa.dataframe_check(name="unique_key")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return unique_rows(data, ["order_id"])

    @pa.dataframe_check(name="fee_is_split_exactly")
    def identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("shipping_fee_cents")
            == pl.col("platform_shipping_discount_cents")
            + pl.col("seller_shipping_discount_cents")
            + pl.col("customer_shipping_cents")
        )


# ------------------------------------------------------------------ statements (docs/statements.md)


def _identity(name: str, total: str, parts: list[str]) -> pa.Check:
    """`total == sum(parts)` on every row, exactly (Decimal arithmetic)."""

    def check(data: pa.PolarsData) -> pl.LazyFrame:
        summed = pl.sum_horizontal([pl.col(p) for p in parts]).cast(pl.Decimal(38, 2))
        return data.lazyframe.select(pl.col(total).cast(pl.Decimal(38, 2)) == summed)

    return pa.Check(check, name=name)


def _order_details_schema() -> pa.DataFrameSchema:
    columns: dict[str, pa.Column] = {"shop_id": pa.Column(pl.String)}
    for label in ORDER_DETAILS_LABELS:
        name = snake(label)
        if label in ORDER_DETAILS_INT:
            columns[name] = pa.Column(pl.Int64, pa.Check.ge(1))
        elif label in ORDER_DETAILS_TEXT:
            columns[name] = pa.Column(pl.String, nullable=False)
        else:
            columns[name] = pa.Column(pl.Decimal(18, 2))
    columns["refund_id"] = pa.Column(pl.String, nullable=True)
    # The database keeps these as generated columns of this value: every row must hold it.
    for label, value in ORDER_DETAILS_CONSTANTS.items():
        columns[snake(label)] = pa.Column(
            pl.String if isinstance(value, str) else pl.Decimal(18, 2), pa.Check.eq(value)
        )
    s = [snake(label) for label in SHIPPING_PARTS]
    f = [snake(label) for label in FEES_PARTS]
    return pa.DataFrameSchema(
        columns,
        strict=True,
        ordered=True,
        checks=[
            # Rows come sorted by date, shop, order, refund (none first), SKU: the fast path of the check.
            pa.Check(
                lambda data: unique_rows(
                    data, ["statement_date_utc", "shop_id", "order_adjustment_id", "refund_id", "sku_id"]
                ),
                name="unique_key",
            ),
            _identity("net_sales_identity", "net_sales", [snake(label) for label in NET_SALES_PARTS]),
            _identity("shipping_identity", "shipping", s),
            _identity("fees_identity", "fees", f),
            _identity(
                "total_identity", "total_settlement_amount", ["net_sales", "shipping", "fees", "adjustment_amount"]
            ),
        ],
        name="OrderDetails",
        description="One row per order SKU per settlement event (docs/statements.md Order details).",
    )


def _statements_schema() -> pa.DataFrameSchema:
    columns: dict[str, pa.Column] = {"shop_id": pa.Column(pl.String)}
    for label in STATEMENTS_LABELS:
        name = snake(label)
        columns[name] = pa.Column(pl.Decimal(18, 2)) if label in STATEMENTS_MONEY else pa.Column(pl.String)
    columns["currency"] = pa.Column(pl.String)
    return pa.DataFrameSchema(
        columns,
        strict=True,
        unique=["shop_id", "statement_date_utc"],
        checks=[_identity("payable_identity", "payable_amount", ["total_settlement_amount", "reserve_amount"])],
        name="Statements",
        description="One row per (shop, statement date) (docs/statements.md Statements).",
    )


OrderDetails = _order_details_schema()
StatementsSchema = _statements_schema()


def statement_total_mismatches(statements: pl.DataFrame, order_details: pl.DataFrame) -> pl.DataFrame:
    """Statements whose totals are not the sums of their Order details rows (empty when right)."""
    totals = ["total_settlement_amount", "net_sales", "shipping", "fees"]
    sums = order_details.group_by("shop_id", "statement_date_utc").agg(
        *[pl.col(c).sum().alias(f"_rows_{c}") for c in totals],
        pl.col("adjustment_amount").sum().alias("_rows_adjustments"),
    )
    joined = statements.join(sums, on=["shop_id", "statement_date_utc"], how="full", coalesce=True)
    differs = pl.any_horizontal(
        *[pl.col(c).fill_null(0) != pl.col(f"_rows_{c}").fill_null(0) for c in totals],
        pl.col("adjustments").fill_null(0) != pl.col("_rows_adjustments").fill_null(0),
    )
    return joined.filter(differs)


class UnsettledOrders(pa.DataFrameModel):
    """One row per accepted order not settled at `as_of`, with its expected money."""

    order_id: str = pa.Field(unique=True)
    shop_id: str
    status: str = pa.Field(isin=["awaiting_delivery", "in_hold", "closed"])
    expected_statement_date: pl.Date = pa.Field(nullable=True)
    expected_total_settlement_amount: Money
    expected_net_sales: Money
    expected_shipping: Money
    expected_fees: Money

    class Config:
        strict = True

    @pa.dataframe_check(name="date_known_only_in_hold")
    def date_only_in_hold(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("expected_statement_date").is_not_null() == (pl.col("status") == "in_hold"))

    @pa.dataframe_check(name="closed_expects_nothing")
    def closed_zero(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("status") != "closed") | (pl.col("expected_total_settlement_amount") == 0))


# ------------------------------------------------------------------ reconciliation (docs/reconciliation.md)

BREAK_TYPES = (
    "missing_in_reported",
    "unexpected_in_reported",
    "adjustment",
    "timing",
    "amount_mismatch",
    "statement_residual",
)
PROBABLE_CAUSES = ("not_modelled", "opt_out_timing", "flash_deal_priority", "coupon_rejected", "fee_rate")


class ReconBreaks(pa.DataFrameModel):
    """One row per nonzero difference at (shop, statement date, order, column)."""

    shop_id: str
    statement_date_utc: str
    order_id: str = pa.Field(nullable=True)
    column: str
    expected: Money
    reported: Money
    difference: Money = pa.Field(ne=0)
    within_tolerance: bool
    break_type: str = pa.Field(isin=list(BREAK_TYPES))
    probable_cause: str = pa.Field(nullable=True, isin=list(PROBABLE_CAUSES))

    class Config:
        strict = True
        unique = ["shop_id", "statement_date_utc", "order_id", "column", "break_type"]

    @pa.dataframe_check(name="difference_is_reported_less_expected")
    def difference_identity(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("difference") == pl.col("reported") - pl.col("expected"))


def _recon_statements_schema() -> pa.DataFrameSchema:
    money = ["total_settlement_amount", "net_sales", "shipping", "fees", "adjustments"]
    columns = {
        "shop_id": pa.Column(pl.String),
        "statement_date_utc": pa.Column(pl.String),
        "reported_statement_id": pa.Column(pl.String, nullable=True),
        "count_breaks": pa.Column(pl.Int64, pa.Check.ge(0)),
        "total_breaks": pa.Column(pl.Decimal(18, 2)),
    }
    checks = []
    for m in money:
        for side in ("expected", "reported", "difference"):
            columns[f"{side}_{m}"] = pa.Column(pl.Decimal(18, 2))
        checks.append(
            _identity(
                f"difference_{m}_is_reported_less_expected", f"reported_{m}", [f"expected_{m}", f"difference_{m}"]
            )
        )
    # The exact bridge: a statement's Total settlement amount breaks sum to its total's difference.
    checks.append(_identity("bridge_is_exact", "difference_total_settlement_amount", ["total_breaks"]))
    return pa.DataFrameSchema(
        columns,
        strict=True,
        unique=["shop_id", "statement_date_utc"],
        checks=checks,
        name="ReconStatements",
        description="One row per statement in the reconciled window (docs/reconciliation.md).",
    )


ReconStatements = _recon_statements_schema()


# ------------------------------------------------------------------ the output tables (docs/statements.md)


@dataclass(frozen=True)
class OutputTable:
    """A published table: its contract, and which of its rows a run replaces.

    `replaced_per`: "statement_date" (the run's shops and statement dates; its Parquet is one
    directory per date), "order" (the orders of the run's shops and of its input), "shop" (the
    run's shops) or "run" (the whole table: it describes the input the run read).
    """

    name: str
    contract: type[pa.DataFrameModel] | pa.DataFrameSchema
    replaced_per: str
    made_per_partition: bool = True  # else made once for the run, from every partition's outputs


# In publishing order: the order of the files, the checks and the database's tables.
OUTPUT_TABLES = (
    OutputTable("discount_lines", DiscountLines, "order"),
    OutputTable("blocked_incentives", BlockedIncentives, "order"),
    OutputTable("coupon_checks", CouponChecks, "order"),
    OutputTable("coupon_restorations", CouponRestorations, "order"),
    OutputTable("order_details", OrderDetails, "statement_date"),
    OutputTable("statements", StatementsSchema, "statement_date"),
    OutputTable("unsettled_orders", UnsettledOrders, "shop"),
    OutputTable("recon_breaks", ReconBreaks, "statement_date"),
    OutputTable("recon_statements", ReconStatements, "statement_date"),
    OutputTable("funding_breaks", FundingBreaks, "order"),
    OutputTable("rejected_rows", RejectedRows, "run"),
    OutputTable("journal_lines", JournalLines, "statement_date", made_per_partition=False),
)
CONTRACTS = {table.name: table.contract for table in OUTPUT_TABLES}


def replaced_per(kind: str) -> tuple[str, ...]:
    """The output tables whose rows a run replaces per `kind` (see `OutputTable`)."""
    assert kind in {table.replaced_per for table in OUTPUT_TABLES}, kind
    return tuple(table.name for table in OUTPUT_TABLES if table.replaced_per == kind)
