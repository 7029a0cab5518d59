"""The small tables a run reports besides its outputs: each order's dates and status, each shop's summary."""

import polars as pl

from schemas.layout import cents_name
from transforms.pipeline import Results
from transforms.run_scope import Window


def orders_table(results: Results) -> pl.DataFrame:
    """The database's per-order table: each order's dates and settlement status."""
    return results.statements.timing.select(
        "order_id",
        "shop_id",
        pl.col("created_at").dt.date().alias("created_date"),
        "delivered_at",
        "settles_at",
        "status",
    )


def shop_summary(results: Results, window: Window) -> pl.DataFrame:
    """Per shop, what a finance analyst asks first: settled (in the window), who funded the discounts, refunds, fees."""
    computed = results.statements.order_details.filter(window.covers(pl.col("statement_date"), as_text=False))
    settled = computed.group_by("shop_id").agg(
        pl.len().alias("order_detail_rows"),
        pl.col("statement_date").n_unique().alias("statements"),
        pl.col(cents_name("Total settlement amount")).sum().alias("settlement_cents"),
        pl.col(cents_name("Gross sales refund")).sum().alias("gross_refunds_cents"),
        pl.col(cents_name("Fees")).sum().alias("fees_cents"),
    )
    orders = results.staged.tables["orders"].select("order_id", "shop_id")
    discounts = (
        results.priced.discount_lines.join(orders, on="order_id")
        .group_by("shop_id")
        .agg(
            pl.col("amount_cents").filter(pl.col("funded_by") == "seller").sum().alias("seller_funded_cents"),
            pl.col("amount_cents").filter(pl.col("funded_by") == "platform").sum().alias("tiktok_funded_cents"),
        )
    )
    unsettled = results.statements.unsettled_orders.group_by("shop_id").agg(pl.len().alias("unsettled_orders"))
    return (
        orders.select("shop_id")
        .unique()
        .join(settled, on="shop_id", how="left")
        .join(discounts, on="shop_id", how="left")
        .join(unsettled, on="shop_id", how="left")
        .fill_null(0)
        .sort("shop_id")
    )


def count_by(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Rows per value of `column` (a manifest's counts by reason), in value order."""
    counts = frame.group_by(column).len().sort(column)
    return dict(zip(counts.get_column(column).to_list(), counts.get_column("len").to_list(), strict=True))
