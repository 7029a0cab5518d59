"""Claims files: per shop and month, the funding breaks where TikTok charged the seller for a
TikTok-funded discount (`tiktok_owes` > 0), as a CSV a seller attaches to a support ticket
(docs/funding.md).

`<exports_dir>/<shop>/claims/<YYYY-MM>-claims.csv`, the shop as a `file_name` (never the ID
itself: it comes from an input file) and the month that of the statement date, else of the
order's creation (UTC). Text cells are neutralised against formula injection as the statement
exports are (`neutralise_formulas`); money is written as plain numbers with 2 decimals. Same
frames, same bytes: rows are sorted by a total key and nothing else (no time, no locale) goes in.
"""

import os
from pathlib import Path

import polars as pl

from publish.exports import file_name, neutralise_formulas
from transforms.funding import owed_by_statement

__all__ = ["CLAIMS_LABELS", "claims_table", "owed_by_statement", "write_claims"]

CLAIMS_LABELS = (
    "Order ID",
    "SKU ID",
    "Order created (UTC)",
    "Statement ID",
    "Statement date",
    "Platform promotions",
    "Expected platform discount",
    "Reported platform discount",
    "Expected seller discount",
    "Reported seller discount",
    "Charged to seller",
    "Probable cause",
    "Evidence",
)

_CLAIM = "TikTok funds the promotions listed, yet {} of their discount was charged to the seller."


def _evidence() -> pl.Expr:
    """The Evidence cell: a sentence built from the probable cause, and the amount claimed."""
    owed = pl.col("tiktok_owes").cast(pl.String)

    def sentence(before: str | pl.Expr, after: str = "") -> pl.Expr:
        head, tail = _CLAIM.split("{}")
        parts = [before] if isinstance(before, pl.Expr) else [pl.lit(before)]
        return pl.concat_str([*parts, pl.lit(head), owed, pl.lit(tail + after)])

    cause = pl.col("probable_cause")
    return (
        pl.when(cause == "opt_out_timing")
        .then(
            sentence(
                "The shop changed its TikTok-funded promotion settings within 24 hours of this order, "
                "but it took part in these promotions when the order was created. "
            )
        )
        .when(cause == "flash_deal_priority")
        .then(
            sentence(
                "A seller Flash Deal on this order blocked a Product Incentive (the Flash Deal wins), "
                "and the TikTok-funded promotions listed still applied. "
            )
        )
        .when(cause == "coupon_rejected")
        .then(
            sentence(
                "A coupon claimed on this order did not meet its conditions and was not applied; "
                "the TikTok-funded promotions listed did apply. "
            )
        )
        .when(cause == "assumption")
        .then(
            sentence(
                pl.concat_str(
                    pl.lit("Computed assuming what the order export does not say ("),
                    pl.col("assumed"),
                    pl.lit("): confirm these before filing. If they hold, "),
                )
            )
        )
        .otherwise(sentence("Under TikTok's promotion rules, "))
    )


def _platform_promotions(discount_lines: pl.DataFrame) -> pl.DataFrame:
    """(order_id, sku_id, promotions): each key's platform-funded promotions, `P7 (product_incentive)`, sorted, `; `-joined."""
    return (
        discount_lines.filter(pl.col("funded_by") == "platform")
        .select(
            "order_id",
            "sku_id",
            pl.concat_str(pl.col("promotion_id"), pl.lit(" ("), pl.col("promotion_type"), pl.lit(")")).alias("_p"),
        )
        .group_by("order_id", "sku_id")
        .agg(pl.col("_p").unique().sort().str.join("; ").alias("promotions"))
    )


def claims_table(funding: pl.DataFrame, discount_lines: pl.DataFrame, orders: pl.DataFrame) -> pl.DataFrame:
    """The claim rows (`tiktok_owes` > 0) labelled for the file, with `shop_id` and `month`
    (`YYYY-MM`) first; sorted by shop, month, statement date (unsettled last), order, SKU
    (shipping last). Text is not neutralised yet: that is the file's business."""
    rows = (
        funding.filter(pl.col("tiktok_owes") > 0)
        .join(orders.select("order_id", "created_at"), on="order_id", how="left")
        .join(_platform_promotions(discount_lines), on=["order_id", "sku_id"], how="left", nulls_equal=True)
    )
    created = pl.col("created_at").dt.convert_time_zone("UTC")
    month = pl.coalesce(pl.col("statement_date").dt.strftime("%Y-%m"), created.dt.strftime("%Y-%m"))
    labelled = rows.select(
        "shop_id",
        month.alias("month"),
        pl.col("order_id").alias("Order ID"),
        pl.col("sku_id").alias("SKU ID"),
        created.dt.strftime("%Y-%m-%d %H:%M:%S").alias("Order created (UTC)"),
        pl.col("statement_id").alias("Statement ID"),
        pl.col("statement_date").dt.strftime("%Y-%m-%d").alias("Statement date"),
        pl.col("promotions").alias("Platform promotions"),
        pl.col("expected_platform_discount").alias("Expected platform discount"),
        pl.col("reported_platform_discount").alias("Reported platform discount"),
        pl.col("expected_seller_discount").alias("Expected seller discount"),
        pl.col("reported_seller_discount").alias("Reported seller discount"),
        pl.col("tiktok_owes").alias("Charged to seller"),
        pl.col("probable_cause").alias("Probable cause"),
        _evidence().alias("Evidence"),
        # Sort keys only: the labelled text of a date sorts as the date does.
        pl.col("statement_date").alias("_statement_date"),
    )
    undated = labelled.filter(pl.col("month").is_null())
    if undated.height:
        raise ValueError(
            f"claims: orders with neither a statement date nor a created_at in orders: {undated['Order ID'].head(5).to_list()}"
        )
    return labelled.sort("shop_id", "month", "_statement_date", "Order ID", "SKU ID", nulls_last=True).drop(
        "_statement_date"
    )


def _write_atomically(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file beside it, so a reader never sees half a file."""
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def write_claims(
    funding: pl.DataFrame, discount_lines: pl.DataFrame, orders: pl.DataFrame, exports_dir: Path
) -> list[Path]:
    """Write `<exports_dir>/<shop>/claims/<YYYY-MM>-claims.csv` for every shop and month with a
    claim; returns the paths written, sorted. A shop and month without a claim gets no file."""
    claims = claims_table(funding, discount_lines, orders)
    paths: list[Path] = []
    # One iteration per file written, not per row: the rows of a file are written by Polars at once.
    for (shop_id, month), rows in claims.partition_by(["shop_id", "month"], as_dict=True, maintain_order=True).items():
        directory = exports_dir / file_name(shop_id) / "claims"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / f"{month}-claims.csv"
        text = neutralise_formulas(rows.drop("shop_id", "month")).write_csv(quote_style="necessary")
        _write_atomically(path, text.encode())
        paths.append(path)
    return sorted(paths)
