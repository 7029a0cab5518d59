"""Statements in the Seller Center layout (docs/statements.md): settlement timing, Order details rows,
statement totals and the orders not yet settled.

An order settles at `delivered_at + hold_days`; refunds at or before that instant fold into
its rows, later ones are their own rows in the statement of their date. Everything here is
integer cents under `schemas.layout.cents_name(label)`; `*_layout` turn them into the layout.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import polars as pl

from schemas.layout import (
    FEES_PARTS,
    NET_SALES_PARTS,
    NOT_MODELLED,
    ORDER_DETAILS_CONSTANTS,
    ORDER_DETAILS_LABELS,
    ORDER_DETAILS_MONEY,
    SHIPPING_PARTS,
    STATEMENTS_LABELS,
    cents_name,
    snake,
)
from transforms.allocate import allocate_many
from transforms.money import cents_to_decimal, mul_div_half_up

LINE_KEY = ["order_id", "sku_id"]
PPM = 1_000_000


@dataclass(frozen=True)
class StatementParams:
    as_of: datetime
    hold_days: int = 8


def settlement_timing(
    orders: pl.DataFrame, line_amounts: pl.DataFrame, refunds: pl.DataFrame, params: StatementParams
) -> pl.DataFrame:
    """One row per order: `settles_at`, `status` (`settled`, `in_hold`, `awaiting_delivery`, `closed`).

    `delivered_at` later than `as_of` has not happened yet. An order whose units were all
    refunded before delivery is closed and settles nothing.
    """
    units = line_amounts.group_by("order_id").agg(pl.col("quantity").sum().alias("_units"))
    delivered = pl.when(pl.col("delivered_at") <= params.as_of).then(pl.col("delivered_at"))
    timing = orders.select(
        "order_id",
        "shop_id",
        "currency",
        "created_at",
        delivered.alias("delivered_at"),
        "affiliate_commission_rate_ppm",
    )
    before_delivery = (
        refunds.join(timing.select("order_id", "delivered_at"), on="order_id")
        .filter(pl.col("delivered_at").is_null() | (pl.col("refunded_at") < pl.col("delivered_at")))
        .group_by("order_id")
        .agg(pl.col("quantity").sum().alias("_refunded_before_delivery"))
    )
    settles_at = pl.col("delivered_at") + timedelta(days=params.hold_days)
    return (
        timing.join(units, on="order_id")
        .join(before_delivery, on="order_id", how="left")
        .with_columns(settles_at.alias("settles_at"))
        .with_columns(
            pl.when(pl.col("_refunded_before_delivery").fill_null(0) >= pl.col("_units"))
            .then(pl.lit("closed"))
            .when(pl.col("delivered_at").is_null())
            .then(pl.lit("awaiting_delivery"))
            .when(pl.col("settles_at") > params.as_of)
            .then(pl.lit("in_hold"))
            .otherwise(pl.lit("settled"))
            .alias("status")
        )
        .drop("_units", "_refunded_before_delivery")
    )


def _fee_rates(
    timing: pl.DataFrame, refunds: pl.DataFrame, fee_schedule: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Referral rate by the order's created date; admin rate and cap by each refund's date."""
    schedule = fee_schedule.sort("effective_from")
    order_rates = (
        timing.select("order_id", pl.col("created_at").dt.date().alias("_day"))
        .sort("_day")
        .join_asof(
            schedule.select("effective_from", "referral_fee_rate_ppm"),
            left_on="_day",
            right_on="effective_from",
            strategy="backward",
        )
        .select("order_id", "referral_fee_rate_ppm")
    )
    refund_rates = (
        refunds.select("refund_id", pl.col("refunded_at").dt.date().alias("_day"))
        .sort("_day")
        .join_asof(
            schedule.select("effective_from", "refund_admin_fee_rate_ppm", "refund_admin_fee_cap_cents"),
            left_on="_day",
            right_on="effective_from",
            strategy="backward",
        )
        .select("refund_id", "refund_admin_fee_rate_ppm", "refund_admin_fee_cap_cents")
    )
    return order_rates, refund_rates


def _refund_events(
    refunds: pl.DataFrame, timing: pl.DataFrame, order_rates: pl.DataFrame, refund_rates: pl.DataFrame
) -> pl.DataFrame:
    """Refunds with their fold cut-off decision and their own admin fee (docs/statements.md)."""
    fold_until = pl.when(pl.col("status") == "settled").then(pl.col("settles_at")).otherwise(pl.lit(None))
    product_part = pl.col("gross_refund_cents") - pl.col("seller_discount_refund_cents")
    returned_referral = mul_div_half_up(pl.col("referral_fee_rate_ppm"), product_part, PPM)
    admin = pl.min_horizontal(
        mul_div_half_up(pl.col("refund_admin_fee_rate_ppm"), returned_referral, PPM),
        pl.col("refund_admin_fee_cap_cents"),
    )
    return (
        refunds.join(timing.select("order_id", "status", "settles_at", "delivered_at"), on="order_id")
        .join(order_rates, on="order_id")
        .join(refund_rates, on="refund_id", how="left")
        .with_columns(
            # Settled orders fold refunds up to settlement; unsettled ones (priced "as if settled
            # now") fold every refund that has happened.
            (fold_until.is_null() | (pl.col("refunded_at") <= fold_until)).alias("is_folded"),
            pl.when(pl.col("delivered_at").is_not_null() & (pl.col("refunded_at") >= pl.col("delivered_at")))
            .then(admin)
            .otherwise(0)
            .fill_null(0)
            .alias("admin_fee_cents"),
        )
    )


def _money_columns(frame: pl.DataFrame, values: dict[str, pl.Expr]) -> pl.DataFrame:
    """Fill every money label: the given ones, 0 for the rest; then the derived totals."""
    frame = frame.with_columns(
        *[values[label].cast(pl.Int64).alias(cents_name(label)) for label in values],
        *[pl.lit(0, pl.Int64).alias(cents_name(label)) for label in NOT_MODELLED if label not in values],
    )
    net = pl.sum_horizontal([pl.col(cents_name(label)) for label in NET_SALES_PARTS])
    frame = frame.with_columns(net.alias(cents_name("Net sales")))
    b = (
        pl.col(cents_name("Net sales"))
        + pl.col(cents_name("Customer-paid shipping fee"))
        + pl.col(cents_name("Customer-paid shipping fee refund"))
    )
    frame = frame.with_columns(
        (-mul_div_half_up(pl.col("referral_fee_rate_ppm"), b, PPM)).alias(cents_name("Referral fee")),
        (
            -mul_div_half_up(pl.col("affiliate_commission_rate_ppm").fill_null(0), pl.col("_product_after_all"), PPM)
        ).alias(cents_name("Affiliate commission")),
    )
    frame = frame.with_columns(
        pl.sum_horizontal([pl.col(cents_name(label)) for label in SHIPPING_PARTS]).alias(cents_name("Shipping")),
        pl.sum_horizontal([pl.col(cents_name(label)) for label in FEES_PARTS]).alias(cents_name("Fees")),
        pl.lit(0, pl.Int64).alias(cents_name("Adjustment amount")),
    )
    return frame.with_columns(
        (
            pl.col(cents_name("Net sales"))
            + pl.col(cents_name("Shipping"))
            + pl.col(cents_name("Fees"))
            + pl.col(cents_name("Adjustment amount"))
        ).alias(cents_name("Total settlement amount"))
    )


def _order_rows(
    timing: pl.DataFrame,
    line_amounts: pl.DataFrame,
    line_tax: pl.DataFrame,
    shipping: pl.DataFrame,
    orders: pl.DataFrame,
    events: pl.DataFrame,
    order_rates: pl.DataFrame,
) -> pl.DataFrame:
    """One row per order SKU on its order's settlement event, folded refunds included."""
    folded = events.filter(pl.col("is_folded"))
    per_line = folded.group_by(LINE_KEY).agg(
        pl.col("quantity").sum().alias("_ref_qty"),
        *[
            pl.col(c).sum()
            for c in (
                "gross_refund_cents",
                "seller_discount_refund_cents",
                "platform_discount_refund_cents",
                "sales_tax_refund_cents",
                "product_refund_cents",
                "admin_fee_cents",
            )
        ],
    )
    shipping_back = (
        folded.filter(pl.col("is_shipping_refunded"))
        .select("order_id")
        .unique()
        .with_columns(pl.lit(True).alias("_ship_back"))
    )
    # What the order contributes is joined at order grain first (fewer rows), then once to its lines.
    per_order = (
        timing.join(shipping, on="order_id", how="left")
        .join(orders.select("order_id", "actual_shipping_fee_cents"), on="order_id")
        .join(order_rates, on="order_id")
        .join(shipping_back, on="order_id", how="left")
    )
    rows = (
        line_amounts.join(per_order, on="order_id")
        .join(line_tax, on=LINE_KEY, how="left")
        .join(per_line, on=LINE_KEY, how="left")
        .with_columns(
            pl.col(c).fill_null(0)
            for c in (
                "gross_refund_cents",
                "seller_discount_refund_cents",
                "platform_discount_refund_cents",
                "sales_tax_refund_cents",
                "product_refund_cents",
                "admin_fee_cents",
                "_ref_qty",
            )
        )
        .with_columns(pl.col("_ship_back").fill_null(False))
    )
    rows = allocate_many(
        rows,
        {
            "_label": "actual_shipping_fee_cents",
            "_customer_shipping": "customer_shipping_cents",
            "_platform_shipping": "platform_shipping_discount_cents",
            "_seller_shipping": "seller_shipping_discount_cents",
        },
        "list_amount_cents",
        "order_id",
    )
    rows = rows.with_columns(
        pl.col("line_sales_tax_cents").fill_null(0).alias("_tax"),
        (pl.col("final_amount_cents") - pl.col("product_refund_cents")).alias("_product_after_all"),
        pl.col("settles_at").alias("_event_at"),
        pl.lit(None, pl.String).alias("refund_id"),
    )
    back = pl.col("_ship_back")
    return _money_columns(
        rows,
        {
            "Gross sales": pl.col("list_amount_cents"),
            "Gross sales refund": -pl.col("gross_refund_cents"),
            "Seller discount": -pl.col("seller_discount_cents"),
            "Seller discount refund": pl.col("seller_discount_refund_cents"),
            "TikTok Shop shipping fee": -pl.col("_label"),
            "Customer-paid shipping fee": pl.col("_customer_shipping"),
            "Customer-paid shipping fee refund": pl.when(back).then(-pl.col("_customer_shipping")).otherwise(0),
            "TikTok Shop shipping incentive": pl.col("_platform_shipping"),
            "TikTok Shop shipping incentive refund": pl.when(back).then(-pl.col("_platform_shipping")).otherwise(0),
            "Refund administration fee": -pl.col("admin_fee_cents"),
            "Customer payment": pl.col("final_amount_cents") + pl.col("_customer_shipping") + pl.col("_tax"),
            "Customer refund": -(
                pl.col("product_refund_cents")
                + pl.when(back).then(pl.col("_customer_shipping")).otherwise(0)
                + pl.col("sales_tax_refund_cents")
            ),
            "Platform discounts": pl.col("platform_discount_cents"),
            "Platform discounts refund": -pl.col("platform_discount_refund_cents"),
            "Sales tax payment": pl.col("_tax"),
            "Sales tax refund": -pl.col("sales_tax_refund_cents"),
            "Customer-paid shipping fee before discounts": pl.col("_customer_shipping")
            + pl.col("_seller_shipping")
            + pl.col("_platform_shipping"),
            "Seller shipping fee discount": pl.col("_seller_shipping"),
            "TikTok Shop shipping fee discount to customer": pl.col("_platform_shipping"),
        },
    )


def _refund_rows(events: pl.DataFrame, timing: pl.DataFrame, line_amounts: pl.DataFrame) -> pl.DataFrame:
    """One row per refund made after its order settled, in the statement of its own date."""
    later = (
        events.filter(~pl.col("is_folded"))
        .join(
            timing.select("order_id", "shop_id", "currency", "created_at", "affiliate_commission_rate_ppm"),
            on="order_id",
        )
        .join(line_amounts.select(*LINE_KEY, "product_name", "sku_name"), on=LINE_KEY)
    )
    later = later.with_columns(
        (-pl.col("product_refund_cents")).alias("_product_after_all"), pl.col("refunded_at").alias("_event_at")
    )
    return _money_columns(
        later,
        {
            "Gross sales": pl.lit(0),
            "Gross sales refund": -pl.col("gross_refund_cents"),
            "Seller discount": pl.lit(0),
            "Seller discount refund": pl.col("seller_discount_refund_cents"),
            "TikTok Shop shipping fee": pl.lit(0),
            "Customer-paid shipping fee": pl.lit(0),
            "Customer-paid shipping fee refund": -pl.col("customer_shipping_refund_cents"),
            "TikTok Shop shipping incentive": pl.lit(0),
            "TikTok Shop shipping incentive refund": -pl.col("platform_shipping_refund_cents"),
            "Refund administration fee": -pl.col("admin_fee_cents"),
            "Customer payment": pl.lit(0),
            "Customer refund": -(
                pl.col("product_refund_cents")
                + pl.col("customer_shipping_refund_cents")
                + pl.col("sales_tax_refund_cents")
            ),
            "Platform discounts": pl.lit(0),
            "Platform discounts refund": -pl.col("platform_discount_refund_cents"),
            "Sales tax payment": pl.lit(0),
            "Sales tax refund": -pl.col("sales_tax_refund_cents"),
            "Customer-paid shipping fee before discounts": pl.lit(0),
            "Seller shipping fee discount": pl.lit(0),
            "TikTok Shop shipping fee discount to customer": pl.lit(0),
        },
    )


@dataclass
class Statements:
    """Order details and statements in cents, and the orders not settled at `as_of`."""

    order_details: pl.DataFrame
    statements: pl.DataFrame
    unsettled_orders: pl.DataFrame
    timing: pl.DataFrame
    referral_rates: pl.DataFrame  # (order_id, referral_fee_rate_ppm)


_KEEP = [
    "shop_id",
    "currency",
    "order_id",
    "sku_id",
    "refund_id",
    "quantity",
    "product_name",
    "sku_name",
    "created_at",
    "delivered_at",
    "_event_at",
]


def build_statements(
    orders: pl.DataFrame,
    line_amounts: pl.DataFrame,
    line_tax: pl.DataFrame,
    shipping: pl.DataFrame,
    refunds: pl.DataFrame,
    fee_schedule: pl.DataFrame,
    params: StatementParams,
) -> Statements:
    """docs/statements.md from the priced lines and refund amounts (refunds already limited to `as_of`)."""
    timing = settlement_timing(orders, line_amounts, refunds, params)
    order_rates, refund_rates = _fee_rates(timing, refunds, fee_schedule)
    events = _refund_events(refunds, timing, order_rates, refund_rates)
    order_rows = _order_rows(timing, line_amounts, line_tax, shipping, orders, events, order_rates)
    money = [cents_name(label) for label in ORDER_DETAILS_MONEY]
    # Only the columns kept are filtered (the order rows carry many more); the order rows are let
    # go before the Order details rows are put together and sorted (the step's peak).
    settled_rows = order_rows.select(*_KEEP, *money).filter(order_rows["status"] == "settled")
    unsettled = _unsettled(order_rows, timing)
    del order_rows
    refund_rows = _refund_rows(events.filter(pl.col("status") == "settled"), timing, line_amounts)
    # Date first: the by-date outputs then need no sort of their own, and a statement's rows (one
    # shop and date) are still one run, in order, refund and SKU order. The sort is the one copy.
    dated = pl.col("_event_at").dt.date().alias("statement_date")
    details = pl.concat(
        [settled_rows.with_columns(dated), refund_rows.select(*_KEEP, *money).with_columns(dated)],
        how="vertical_relaxed",
    ).sort("statement_date", "shop_id", "order_id", "refund_id", "sku_id", nulls_last=False)
    del settled_rows, refund_rows
    statements = (
        details.group_by("shop_id", "currency", "statement_date")
        .agg(
            pl.col(cents_name("Total settlement amount")).sum(),
            pl.col(cents_name("Net sales")).sum(),
            pl.col(cents_name("Shipping")).sum(),
            pl.col(cents_name("Fees")).sum(),
            pl.col(cents_name("Adjustment amount")).sum().alias(cents_name("Adjustments")),
        )
        .with_columns(pl.lit(0, pl.Int64).alias(cents_name("Reserve amount")))
        .with_columns(
            (pl.col(cents_name("Total settlement amount")) + pl.col(cents_name("Reserve amount"))).alias(
                cents_name("Payable amount")
            )
        )
        .sort("shop_id", "statement_date")
    )
    return Statements(
        order_details=details,
        statements=statements,
        unsettled_orders=unsettled,
        timing=timing,
        referral_rates=order_rates,
    )


def _unsettled(order_rows: pl.DataFrame, timing: pl.DataFrame) -> pl.DataFrame:
    """Every order not settled at `as_of`, with its order rows summed as if settled now."""
    expected = ("Total settlement amount", "Net sales", "Shipping", "Fees")
    sums = (
        order_rows.filter(pl.col("status").is_in(["in_hold", "awaiting_delivery"]))
        .group_by("order_id")
        .agg(pl.col(cents_name(label)).sum().alias(f"expected_{cents_name(label)}") for label in expected)
    )
    return (
        timing.filter(pl.col("status") != "settled")
        .join(sums, on="order_id", how="left")
        .select(
            "order_id",
            "shop_id",
            "status",
            pl.when(pl.col("status") == "in_hold")
            .then(pl.col("settles_at").dt.date())
            .alias("expected_statement_date"),
            *[pl.col(f"expected_{cents_name(label)}").fill_null(0) for label in expected],
        )
        .sort("shop_id", "order_id")
    )


# ------------------------------------------------------------------ layout


def statement_id(shop: pl.Expr, day: pl.Expr) -> pl.Expr:
    return pl.concat_str([shop, pl.lit("-"), day.dt.strftime("%Y%m%d")])


def _statement_text() -> dict[str, pl.Expr]:
    """The identifying columns a computed statement row carries (docs/statements.md)."""
    return {
        "Statement date (UTC)": pl.col("statement_date").dt.strftime("%Y-%m-%d"),
        "Statement ID": statement_id(pl.col("shop_id"), pl.col("statement_date")),
        "Payment ID": pl.lit(ORDER_DETAILS_CONSTANTS["Payment ID"]),
        "Status": pl.lit(ORDER_DETAILS_CONSTANTS["Status"]),
    }


def order_details_layout(details: pl.DataFrame) -> pl.DataFrame:
    """Order details with the exact labels, in order, plus `shop_id` first; money as Decimal(18,2)."""
    text = {
        **_statement_text(),
        "Currency": pl.col("currency"),
        "Order/adjustment ID": pl.col("order_id"),
        "SKU ID": pl.col("sku_id"),
        "Quantity": pl.col("quantity").cast(pl.Int64),
        "Product name": pl.col("product_name"),
        "SKU name": pl.col("sku_name"),
        # The UTC date as ISO text (a date's cast gives it; a time zone's strftime costs twice as much).
        "Order created date": pl.col("created_at").dt.date().cast(pl.String),
        "Order delivery date": pl.col("delivered_at").dt.date().cast(pl.String).fill_null(""),
        # The text constants (Payment ID and Status as above; Type, Adjustment reason, Related order
        # ID); the money ones are cents columns like the others.
        **{label: pl.lit(value) for label, value in ORDER_DETAILS_CONSTANTS.items() if isinstance(value, str)},
    }
    columns = [
        text[label].alias(label) if label in text else cents_to_decimal(pl.col(cents_name(label))).alias(label)
        for label in ORDER_DETAILS_LABELS
    ]
    return details.select(pl.col("shop_id"), *columns, pl.col("refund_id"))


def statements_layout(statements: pl.DataFrame) -> pl.DataFrame:
    text = _statement_text()
    columns = [
        text[label].alias(label) if label in text else cents_to_decimal(pl.col(cents_name(label))).alias(label)
        for label in STATEMENTS_LABELS
    ]
    return statements.select(pl.col("shop_id"), *columns, pl.col("currency"))


def snake_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Parquet/DuckDB names: every label in snake_case (docs/statements.md)."""
    return frame.rename({c: snake(c) for c in frame.columns})


def unsettled_layout(unsettled: pl.DataFrame) -> pl.DataFrame:
    return unsettled.with_columns(
        cents_to_decimal(pl.col(c)).alias(c.removesuffix("_cents")) for c in unsettled.columns if c.endswith("_cents")
    ).drop([c for c in unsettled.columns if c.endswith("_cents")])
