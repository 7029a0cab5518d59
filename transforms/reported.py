"""Reading Seller Center exports as downloaded (SPEC §5), from frames of raw text to typed rows.

Headers match the layout labels case-insensitively after trimming spaces and a byte-order mark;
money may carry `$`, thousands separators or parentheses for negatives; dates come as
`YYYY-MM-DD`, `YYYY/MM/DD` or `MM/DD/YYYY`. Unknown columns are kept (as `raw`), never an error.
A value that cannot be read is an error naming the file, the row and the column.
"""

import polars as pl

from schemas.layout import ORDER_DETAILS_LABELS, ORDER_DETAILS_MONEY, STATEMENTS_MONEY, cents_name, snake
from transforms.money import parse_fixed

REQUIRED_DETAIL_LABELS = ("Statement date (UTC)", "Statement ID", "Type", "Total settlement amount")
REQUIRED_STATEMENT_LABELS = ("Statement date (UTC)", "Statement ID", "Total settlement amount")
_TEXT_LABELS = ("Statement ID", "Payment ID", "Status", "Currency", "Type", "Order/adjustment ID", "SKU ID", "Adjustment reason", "Related order ID")


class ReportedFileError(ValueError):
    """A reported export that cannot be read; the message names file, row and column."""


def normalise_headers(frame: pl.DataFrame) -> pl.DataFrame:
    """Rename columns whose trimmed, BOM-less, lower-cased header is a known label to that label."""
    known = {label.lower(): label for label in ORDER_DETAILS_LABELS + ("Adjustments", "Reserve amount", "Payable amount")}
    renames = {}
    for column in frame.columns:
        key = column.replace("\ufeff", "").strip().lower()
        if key in known and known[key] not in renames.values():
            renames[column] = known[key]
    return frame.rename(renames)


def _money(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    text = raw.cast(pl.String).str.strip_chars()
    negative = text.str.starts_with("(") & text.str.ends_with(")")
    cleaned = text.str.replace_all(r"[()$,\s]", "").str.replace(r"^\+", "")
    cleaned = pl.when(cleaned == "").then(pl.lit("0")).otherwise(cleaned)
    value, reason = parse_fixed(cleaned, 2, "sub_cent")
    return pl.when(negative).then(-value).otherwise(value), reason


def _date(raw: pl.Expr) -> pl.Expr:
    text = raw.cast(pl.String).str.strip_chars().str.slice(0, 10)
    return pl.coalesce(
        text.str.to_date("%Y-%m-%d", strict=False),
        text.str.to_date("%Y/%m/%d", strict=False),
        text.str.to_date("%m/%d/%Y", strict=False),
    )


def _typed(frame: pl.DataFrame, source: str, money_labels: tuple[str, ...], required: tuple[str, ...], sheet: str) -> pl.DataFrame:
    frame = normalise_headers(frame)
    for label in required:
        if label not in frame.columns:
            raise ReportedFileError(f"{source}: {sheet}: required column '{label}' is missing")
    frame = frame.with_row_index("_row", offset=2)  # spreadsheet row: 1 is the header
    known = set(ORDER_DETAILS_LABELS) | set(money_labels)
    extra = [c for c in frame.columns if c not in known and c != "_row"]
    exprs: list[pl.Expr] = [pl.col("_row")]
    checks: list[tuple[str, pl.Expr]] = []
    for label in money_labels:
        if label in frame.columns:
            value, reason = _money(pl.col(label))
            exprs.append(value.fill_null(0).alias(cents_name(label)))
            checks.append((label, reason))
        else:
            exprs.append(pl.lit(0, pl.Int64).alias(cents_name(label)))
    date = _date(pl.col("Statement date (UTC)"))
    exprs.append(date.alias("statement_date"))
    checks.append(("Statement date (UTC)", pl.when(date.is_null()).then(pl.lit("invalid_date"))))
    for label in _TEXT_LABELS:
        exprs.append((pl.col(label).cast(pl.String).str.strip_chars() if label in frame.columns else pl.lit(None, pl.String)).alias(snake(label)))
    if extra:
        exprs.append(pl.struct([pl.col(c).cast(pl.String) for c in extra]).struct.json_encode().alias("raw"))
    else:
        exprs.append(pl.lit(None, pl.String).alias("raw"))
    bad = frame.select(pl.col("_row"), *[reason.alias(label) for label, reason in checks])
    for label, _ in checks:
        failing = bad.filter(pl.col(label).is_not_null())
        if failing.height:
            row = failing.row(0, named=True)
            value = frame.filter(pl.col("_row") == row["_row"])[label].item()
            raise ReportedFileError(f"{source}: {sheet} row {row['_row']}, column '{label}': cannot read {value!r} ({row[label]})")
    return frame.select(exprs)


def order_detail_rows(frame: pl.DataFrame, source: str, shop_id: str) -> pl.DataFrame:
    """Typed Order details rows of one export file (money in cents)."""
    rows = _typed(frame.cast(pl.String), source, ORDER_DETAILS_MONEY, REQUIRED_DETAIL_LABELS, "Order details")
    return rows.with_columns(pl.lit(shop_id).alias("shop_id"), pl.lit(source).alias("source"))


def statement_rows(frame: pl.DataFrame, source: str, shop_id: str) -> pl.DataFrame:
    """Typed Statements rows of one export file (money in cents)."""
    rows = _typed(frame.cast(pl.String), source, STATEMENTS_MONEY, REQUIRED_STATEMENT_LABELS, "Statements")
    return rows.select(
        "_row", "statement_date", "statement_id", *[cents_name(l) for l in STATEMENTS_MONEY]
    ).with_columns(pl.lit(shop_id).alias("shop_id"), pl.lit(source).alias("source"))


def empty_reported_details() -> pl.DataFrame:
    """No reported exports: an empty frame of the typed Order details shape."""
    header = pl.DataFrame({label: [] for label in REQUIRED_DETAIL_LABELS}, schema={label: pl.String for label in REQUIRED_DETAIL_LABELS})
    return order_detail_rows(header, "", "")


def empty_reported_statements() -> pl.DataFrame:
    header = pl.DataFrame({label: [] for label in REQUIRED_STATEMENT_LABELS}, schema={label: pl.String for label in REQUIRED_STATEMENT_LABELS})
    return statement_rows(header, "", "")
