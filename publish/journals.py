"""Statement journals as files a bookkeeper imports: QuickBooks Online and Xero, one file of each
per shop and month (`exports/<shop>/journals/<YYYY-MM>-quickbooks.csv`, `…-xero.csv`).

QuickBooks Online's journal import: Journal No., Journal Date (MM/DD/YYYY), Account Name (it
matches accounts by name), Debits and Credits (positive, the other side blank), Description and
Name. Xero's manual journal import template: Narration (one per journal, grouping its lines),
Date, Description, AccountCode (it matches accounts by code), TaxRate (the rate's name) and one
signed Amount (a debit positive, a credit negative); dates as `12 Sep 2026`, which Xero reads in
every region. Text from the input (shop and statement IDs) is neutralised as in every export.
"""

from pathlib import Path

import polars as pl

from publish.exports import file_name, neutralise_formulas

JOURNAL_NO_CHARS = 21  # the longest journal number QuickBooks Online takes


def journal_number(statement_id: pl.Expr) -> pl.Expr:
    """The statement ID as the journal number, or, when longer than QuickBooks takes, its first
    characters and a hash of the whole ID (so two statements never share a number)."""
    digest = statement_id.hash().cast(pl.String).str.slice(0, 8)
    keep = JOURNAL_NO_CHARS - 9
    return (
        pl.when(statement_id.str.len_chars() <= JOURNAL_NO_CHARS)
        .then(statement_id)
        .otherwise(statement_id.str.slice(0, keep) + "-" + digest)
    )


def quickbooks(lines: pl.DataFrame) -> pl.DataFrame:
    date = pl.col("statement_date_utc").str.to_date("%Y-%m-%d")
    return lines.select(
        journal_number(pl.col("statement_id")).alias("Journal No."),
        date.dt.strftime("%m/%d/%Y").alias("Journal Date"),
        pl.col("account_name").alias("Account Name"),
        pl.when(pl.col("debit") != 0).then(pl.col("debit")).alias("Debits"),
        pl.when(pl.col("credit") != 0).then(pl.col("credit")).alias("Credits"),
        pl.col("memo").alias("Description"),
        pl.lit("TikTok Shop").alias("Name"),
    )


def xero(lines: pl.DataFrame) -> pl.DataFrame:
    date = pl.col("statement_date_utc").str.to_date("%Y-%m-%d")
    return lines.select(
        pl.col("memo").alias("*Narration"),
        date.dt.strftime("%d %b %Y").alias("*Date"),
        pl.col("account_name").alias("Description"),
        pl.col("account_code").alias("*AccountCode"),
        pl.col("tax_rate").alias("*TaxRate"),
        (pl.col("debit") - pl.col("credit")).cast(pl.Decimal(18, 2)).alias("*Amount"),
    )


def write_journal_exports(lines: pl.DataFrame, exports_dir: Path) -> list[Path]:
    """Both files for every shop and month of `lines` (JournalLines, sorted); the paths written."""
    written = []
    month = pl.col("statement_date_utc").str.slice(0, 7)
    for (shop, yyyy_mm), frame in (
        lines.with_columns(month.alias("_month"))
        .partition_by("shop_id", "_month", as_dict=True, maintain_order=True)
        .items()
    ):
        directory = exports_dir / file_name(shop) / "journals"
        directory.mkdir(parents=True, exist_ok=True)
        for kind, layout in (("quickbooks", quickbooks), ("xero", xero)):
            path = directory / f"{yyyy_mm}-{kind}.csv"
            neutralise_formulas(layout(frame)).write_csv(path)
            written.append(path)
    return written
