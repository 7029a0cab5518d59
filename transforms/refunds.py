"""Refunds (docs/stacking.md "Refunds"): what each refund returns, and the coupons it restores.

A line's refunds are taken in `refunded_at` order (ties: `refund_id`). A refund of `k` of the
`R` units still unrefunded returns `round(X * k / R)` of each amount `X` still unrefunded on
that line — its seller discount, its platform discount and its allocated sales tax — so a
full refund reverses everything exactly. Staging already rejected over-refunds and second
shipping refunds, so every refund here is accepted.
"""

import polars as pl

from schemas.handoffs import RefundAmounts, dtypes, empty
from transforms.allocate import allocate
from transforms.money import mul_div_half_up

LINE_KEY = ["order_id", "sku_id"]


def line_sales_tax(line_amounts: pl.DataFrame, orders: pl.DataFrame) -> pl.DataFrame:
    """Each line's share of its order's sales tax, allocated by gross sales (list amount)."""
    lines = line_amounts.select(*LINE_KEY, "list_amount_cents").join(
        orders.select("order_id", "sales_tax_cents"), on="order_id"
    )
    return allocate(lines, "sales_tax_cents", "list_amount_cents", "order_id", out="line_sales_tax_cents").select(
        *LINE_KEY, "line_sales_tax_cents"
    )


def refund_amounts(
    refunds: pl.DataFrame, line_amounts: pl.DataFrame, line_tax: pl.DataFrame, order_shipping: pl.DataFrame
) -> pl.DataFrame:
    """One row per refund: gross refund, the discounts and tax it returns, shipping it returns.

    Processed one refund rank at a time, vectorised over every line (a line rarely has more
    than a few refunds), since each refund returns a share of what the earlier ones left.
    """
    ordered = refunds.sort(*LINE_KEY, "refunded_at", "refund_id").with_columns(
        pl.int_range(pl.len()).over(LINE_KEY).alias("_rank")
    )
    # Only refunded lines take part (a few in a hundred): every join below is on those alone.
    line_amounts = line_amounts.join(ordered.select(LINE_KEY).unique(), on=LINE_KEY, how="semi")
    remaining = (
        line_amounts.select(
            *LINE_KEY,
            pl.col("quantity").alias("_units"),
            pl.col("seller_discount_cents").alias("_seller"),
            pl.col("platform_discount_cents").alias("_platform"),
        )
        .join(line_tax.select(*LINE_KEY, pl.col("line_sales_tax_cents").alias("_tax")), on=LINE_KEY, how="left")
        .with_columns(pl.col("_tax").fill_null(0))
    )
    amounts = ("_seller", "_platform", "_tax")
    steps: list[pl.DataFrame] = []
    max_rank = ordered["_rank"].max()
    for rank in range(0 if max_rank is None else max_rank + 1):
        step = ordered.filter(pl.col("_rank") == rank).join(remaining, on=LINE_KEY)
        step = step.with_columns(
            mul_div_half_up(pl.col(x), pl.col("quantity"), pl.col("_units")).alias(f"{x}_returned") for x in amounts
        )
        steps.append(step)
        taken = step.select(*LINE_KEY, "quantity", *[f"{x}_returned" for x in amounts])
        remaining = remaining.join(taken, on=LINE_KEY, how="left").select(
            *LINE_KEY,
            (pl.col("_units") - pl.col("quantity").fill_null(0)).alias("_units"),
            *[(pl.col(x) - pl.col(f"{x}_returned").fill_null(0)).alias(x) for x in amounts],
        )
    if not steps:
        return empty(RefundAmounts)
    units = line_amounts.select(*LINE_KEY, "unit_price_cents")
    shipping = order_shipping.select("order_id", "customer_shipping_cents", "platform_shipping_discount_cents")
    return (
        pl.concat(steps)
        .join(units, on=LINE_KEY)
        .join(shipping, on="order_id", how="left")
        .select(
            "refund_id",
            *LINE_KEY,
            "refunded_at",
            "quantity",
            pl.col("refund_shipping").alias("is_shipping_refunded"),
            (pl.col("quantity") * pl.col("unit_price_cents")).alias("gross_refund_cents"),
            pl.col("_seller_returned").alias("seller_discount_refund_cents"),
            pl.col("_platform_returned").alias("platform_discount_refund_cents"),
            pl.col("_tax_returned").alias("sales_tax_refund_cents"),
            (
                pl.col("quantity") * pl.col("unit_price_cents")
                - pl.col("_seller_returned")
                - pl.col("_platform_returned")
            ).alias("product_refund_cents"),
            pl.when(pl.col("refund_shipping"))
            .then(pl.col("customer_shipping_cents"))
            .otherwise(0)
            .fill_null(0)
            .alias("customer_shipping_refund_cents"),
            pl.when(pl.col("refund_shipping"))
            .then(pl.col("platform_shipping_discount_cents"))
            .otherwise(0)
            .fill_null(0)
            .alias("platform_shipping_refund_cents"),
        )
        .cast(dtypes(RefundAmounts))
        .sort("order_id", "refunded_at", "refund_id")
    )


def coupon_restorations(
    refunds: pl.DataFrame, line_amounts: pl.DataFrame, coupon_checks: pl.DataFrame, headers: pl.DataFrame
) -> pl.DataFrame:
    """The refund that brings an order's unrefunded units to zero restores its applied platform
    product coupon: `usable` when `refunded_at < ends_at`, else `expired`. One row per order."""
    ordered_units = line_amounts.group_by("order_id").agg(pl.col("quantity").sum().alias("_ordered"))
    closing = (
        refunds.sort("order_id", "refunded_at", "refund_id")
        .with_columns(pl.col("quantity").cum_sum().over("order_id").alias("_refunded"))
        .join(ordered_units, on="order_id")
        .filter(pl.col("_refunded") == pl.col("_ordered"))
        .select("order_id", "refund_id", "refunded_at")
    )
    applied = coupon_checks.filter(
        (pl.col("coupon_type") == "product_coupon") & (pl.col("status") == "applied")
    ).select("order_id", "coupon_id")
    return (
        closing.join(applied, on="order_id")
        .join(headers.select(pl.col("promotion_id").alias("coupon_id"), "ends_at"), on="coupon_id")
        .select(
            "order_id",
            "coupon_id",
            "refund_id",
            "refunded_at",
            pl.when(pl.col("refunded_at") < pl.col("ends_at"))
            .then(pl.lit("usable"))
            .otherwise(pl.lit("expired"))
            .alias("status"),
        )
        .sort("order_id")
    )
