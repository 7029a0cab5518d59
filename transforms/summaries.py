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


# A shop's settled rows in the run's window, from its partitions' results (summed over slices).
SETTLED = {
    "order_detail_rows": pl.UInt32,
    "statements": pl.UInt32,
    "settlement_cents": pl.Int64,
    "gross_refunds_cents": pl.Int64,
    "fees_cents": pl.Int64,
}


def shop_summary(results: Results, window: Window) -> pl.DataFrame:
    """Per shop, the Order details it settled in the window: rows, statements, total, refunds,
    fees (`SETTLED`). What is about all of a shop's orders (discounts by funder, unsettled
    orders) comes from the database the run leaves (`publish.warehouse.order_totals`)."""
    computed = results.statements.order_details.filter(window.covers(pl.col("statement_date"), as_text=False))
    return (
        computed.group_by("shop_id")
        .agg(
            pl.len().alias("order_detail_rows"),
            pl.col("statement_date").n_unique().alias("statements"),
            pl.col(cents_name("Total settlement amount")).sum().alias("settlement_cents"),
            pl.col(cents_name("Gross sales refund")).sum().alias("gross_refunds_cents"),
            pl.col(cents_name("Fees")).sum().alias("fees_cents"),
        )
        .cast(SETTLED)
        .sort("shop_id")
    )


def with_order_totals(settled: pl.DataFrame, totals: pl.DataFrame) -> pl.DataFrame:
    """One summary row per shop of `totals` (each shop with orders, and its orders' totals from the
    database), with its settled rows (`SETTLED`; zero where it settled nothing in the window)."""
    settled = settled if settled.width else pl.DataFrame(schema={"shop_id": pl.String, **SETTLED})
    return (
        totals.join(settled, on="shop_id", how="left")
        .with_columns(pl.col(list(SETTLED)).fill_null(0))
        .select("shop_id", *SETTLED, pl.exclude("shop_id", *SETTLED))
        .sort("shop_id")
    )


def count_by(frame: pl.DataFrame, column: str) -> dict[str, int]:
    """Rows per value of `column` (a manifest's counts by reason), in value order."""
    counts = frame.group_by(column).len().sort(column)
    return dict(zip(counts.get_column(column).to_list(), counts.get_column("len").to_list(), strict=True))
