"""Reading Seller Center exports as downloaded (SPEC §5), from frames of raw text to typed rows.

Headers match the layout labels case-insensitively after trimming spaces and a byte-order mark;
money may carry `$`, thousands separators or parentheses for negatives; dates come as
`YYYY-MM-DD`, `YYYY/MM/DD` or `MM/DD/YYYY`. Unknown columns are kept (as `raw`), never an error.
A value that cannot be read is an error naming the file, the row and the column.
"""

import polars as pl

from schemas.layout import (
    ORDER_DETAILS_LABELS,
    ORDER_DETAILS_MONEY,
    STATEMENTS_LABELS,
    STATEMENTS_MONEY,
    cents_name,
    snake,
)
from transforms.money import parse_fixed, parse_fixed_typed

# "the statement date, the ID, the type, the total": of Order details rows both IDs are needed,
# the statement's (one file per statement) and the order's (the grain reconciled).
REQUIRED_DETAIL_LABELS = (
    "Statement date (UTC)",
    "Statement ID",
    "Order/adjustment ID",
    "Type",
    "Total settlement amount",
)
REQUIRED_STATEMENT_LABELS = ("Statement date (UTC)", "Statement ID", "Total settlement amount")
_TEXT_LABELS = (
    "Statement ID",
    "Payment ID",
    "Status",
    "Currency",
    "Type",
    "Order/adjustment ID",
    "SKU ID",
    "Adjustment reason",
    "Related order ID",
)


class ReportedFileError(ValueError):
    """A reported export that cannot be read; the message names file, row and column."""


def normalise_headers(frame: pl.DataFrame) -> pl.DataFrame:
    """Rename columns whose trimmed, BOM-less, lower-cased header is a known label to that label."""
    known = {label.lower(): label for label in ORDER_DETAILS_LABELS + STATEMENTS_LABELS}
    renames = {}
    for column in frame.columns:
        key = column.replace("\ufeff", "").strip().lower()
        if key in known and known[key] not in renames.values():
            renames[column] = known[key]
    return frame.rename(renames)


def _money(raw: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(cents, reason) of an exported amount: `$`, thousands separators and spaces dropped, and
    parentheses around the number (inside or outside the `$`) meaning negative."""
    text = raw.cast(pl.String).str.replace_all(r"[$,\s]", "")
    negative = text.str.contains(r"^\(.*\)$")
    number = pl.when(negative).then(text.str.strip_prefix("(").str.strip_suffix(")")).otherwise(text)
    number = pl.when(number == "").then(pl.lit("0")).otherwise(number)
    value, reason = parse_fixed(number, 2, "sub_cent")
    return pl.when(negative).then(-value).otherwise(value), reason


def _date(raw: pl.Expr) -> pl.Expr:
    text = raw.cast(pl.String).str.strip_chars().str.slice(0, 10)
    return pl.coalesce(
        text.str.to_date("%Y-%m-%d", strict=False),
        text.str.to_date("%Y/%m/%d", strict=False),
        text.str.to_date("%m/%d/%Y", strict=False),
    )


def _exact(dtype: pl.DataType) -> bool:
    """An integer or a Decimal of at most 2 places: whole cents without a text round trip."""
    return dtype.is_integer() or (isinstance(dtype, pl.Decimal) and (dtype.scale or 0) <= 2)


def _typed(
    frame: pl.DataFrame, source: str, money_labels: tuple[str, ...], required: tuple[str, ...], sheet: str
) -> pl.DataFrame:
    frame = normalise_headers(frame)
    for label in required:
        if label not in frame.columns:
            raise ReportedFileError(f"{source}: {sheet}: required column '{label}' is missing")
    frame = frame.with_row_index("_row", offset=2)  # spreadsheet row: 1 is the header
    known = set(ORDER_DETAILS_LABELS) | set(money_labels)
    extra = [c for c in frame.columns if c not in known and c != "_row"]
    present = [label for label in money_labels if label in frame.columns]
    # Integer and Decimal columns (Parquet exports) convert exactly, column by column; text
    # amounts (CSV, XLSX) go into one long column, parsed by one expression (not one per label).
    direct = [label for label in present if _exact(frame.schema[label])]
    textual = [label for label in present if label not in direct]
    converted = [parse_fixed_typed(pl.col(label), frame.schema[label], 2, "sub_cent") for label in direct]
    exact = frame.select(
        "_row",
        *[cents.alias(label) for (cents, _), label in zip(converted, direct, strict=True)],
        *[reason.alias(f"_reason {label}") for (_, reason), label in zip(converted, direct, strict=True)],
    )
    if textual:
        value, reason = _money(pl.col("text"))
        long = frame.select("_row", *[pl.col(label).cast(pl.String) for label in textual]).unpivot(
            index="_row", on=textual, variable_name="column", value_name="text"
        )
        amounts = long.with_columns(value.alias("cents"), reason.alias("reason"))
    else:  # nothing to parse (and building the parser costs more than a small file)
        schema = {
            "_row": frame.schema["_row"],
            "column": pl.String,
            "text": pl.String,
            "cents": pl.Int64,
            "reason": pl.String,
        }
        amounts = pl.DataFrame(schema=schema)
    exact_problems = (
        exact.select("_row", *[f"_reason {label}" for label in direct])
        .unpivot(index="_row", variable_name="column", value_name="reason")
        .filter(pl.col("reason").is_not_null())
        .with_columns(pl.col("column").str.strip_prefix("_reason "))
        .join(
            frame.select("_row", *[pl.col(label).cast(pl.String) for label in direct]).unpivot(
                index="_row", variable_name="column", value_name="text"
            ),
            on=["_row", "column"],
        )
        .select("_row", "column", "text", "reason")
        if direct
        else amounts.clear().select("_row", "column", "text", "reason")
    )
    dates = frame.select(
        "_row",
        pl.col("Statement date (UTC)").cast(pl.String).alias("text"),
        _date(pl.col("Statement date (UTC)")).alias("statement_date"),
    )
    problems = pl.concat(
        [
            amounts.filter(pl.col("reason").is_not_null()).select("_row", "column", "text", "reason"),
            exact_problems,
            dates.filter(pl.col("statement_date").is_null()).select(
                "_row", pl.lit("Statement date (UTC)").alias("column"), "text", pl.lit("invalid_date").alias("reason")
            ),
        ]
    )
    if problems.height:
        order = {label: i for i, label in enumerate(frame.columns)}
        first = (
            problems.with_columns(pl.col("column").replace_strict(order, return_dtype=pl.Int64).alias("_at"))
            .sort("_row", "_at")
            .row(0, named=True)
        )
        raise ReportedFileError(
            f"{source}: {sheet} row {first['_row']}, column '{first['column']}': cannot read {first['text']!r} ({first['reason']})"
        )
    wide = (
        amounts.pivot(on="column", index="_row", values="cents") if textual and frame.height else frame.select("_row")
    )
    wide = wide.join(exact.select("_row", *direct), on="_row", how="left")
    exprs: list[pl.Expr] = [pl.col("_row")]
    for label in money_labels:
        exprs.append(
            (pl.col(label).fill_null(0) if label in wide.columns else pl.lit(0, pl.Int64))
            .cast(pl.Int64)
            .alias(cents_name(label))
        )
    typed = frame.select("_row").join(wide, on="_row", how="left", maintain_order="left").select(exprs)
    text = [
        (pl.col(label).cast(pl.String).str.strip_chars() if label in frame.columns else pl.lit(None, pl.String)).alias(
            snake(label)
        )
        for label in _TEXT_LABELS
    ]
    raw = (
        pl.struct([pl.col(c).cast(pl.String) for c in extra]).struct.json_encode() if extra else pl.lit(None, pl.String)
    )
    return pl.concat([typed, dates.select("statement_date"), frame.select(*text, raw.alias("raw"))], how="horizontal")


def order_detail_rows(frame: pl.DataFrame, source: str, shop_id: str) -> pl.DataFrame:
    """Typed Order details rows of one export file (money in cents)."""
    rows = _typed(frame, source, ORDER_DETAILS_MONEY, REQUIRED_DETAIL_LABELS, "Order details")
    return rows.with_columns(pl.lit(shop_id).alias("shop_id"), pl.lit(source).alias("source"))


def statement_rows(frame: pl.DataFrame, source: str, shop_id: str) -> pl.DataFrame:
    """Typed Statements rows of one export file (money in cents; unknown columns kept in `raw`)."""
    rows = _typed(frame, source, STATEMENTS_MONEY, REQUIRED_STATEMENT_LABELS, "Statements")
    return rows.select(
        "_row", "statement_date", "statement_id", *[cents_name(label) for label in STATEMENTS_MONEY], "raw"
    ).with_columns(pl.lit(shop_id).alias("shop_id"), pl.lit(source).alias("source"))


def empty_reported_details() -> pl.DataFrame:
    """No reported exports: an empty frame of the typed Order details shape."""
    header = pl.DataFrame(
        {label: [] for label in REQUIRED_DETAIL_LABELS}, schema={label: pl.String for label in REQUIRED_DETAIL_LABELS}
    )
    return order_detail_rows(header, "", "")


def empty_reported_statements() -> pl.DataFrame:
    header = pl.DataFrame(
        {label: [] for label in REQUIRED_STATEMENT_LABELS},
        schema={label: pl.String for label in REQUIRED_STATEMENT_LABELS},
    )
    return statement_rows(header, "", "")
