"""Staging (docs/stacking.md): cast every raw input table to canonical types and reject what breaks
the contract, dependants included, so that business logic only ever sees clean frames.

Grain is kept: every raw row is either in its staged table or in `rejected_rows` (exactly
once, with its first failing reason). Money becomes `*_cents` (Int64), rates `*_ppm`,
`discount_value` becomes `discount_value_x100` (percent hundredths or cents), timestamps UTC.
Pure: frames in, frames out.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

import duckdb
import polars as pl

from schemas.checks import in_key_order, run_values
from schemas.handoffs import dtypes
from schemas.inputs import (
    ALLOWED_KINDS,
    ALLOWS_MIN_QUANTITY,
    ALLOWS_MIN_SPEND,
    BMSM_TYPES,
    DEFAULT_FEE_SCHEDULE,
    FUNDED_BY,
    INPUT_TABLES,
    MAX_AMOUNT_CENTS,
    MAX_COUNT,
    MAX_LINE_GROSS_CENTS,
    SELLER_TYPES,
    TABLE_KEYS,
    Col,
)
from schemas.outputs import RejectedRows
from transforms.money import parse_fixed, parse_fixed_typed

_FAIL = "_failure"
_ROW = "row_number"
_KEY = "_key"
_FAIL_DTYPE = pl.Struct({"column": pl.String, "reason": pl.String, "value": pl.String})

UTC = pl.Datetime("us", "UTC")


class InputContractError(ValueError):
    """A broken contract that stops the run: a missing table or column (docs/stacking.md)."""

    def __init__(self, table: str, column: str | None, message: str):
        super().__init__(message)
        self.table = table
        self.column = column


@dataclass
class Staged:
    """Clean canonical tables, the rejected rows, and rows in / accepted / rejected per table."""

    tables: dict[str, pl.DataFrame]
    rejected_rows: pl.DataFrame
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    # Promotion ids present in the input whose rows were rejected (coupon check `invalid_promotion`).
    invalid_promotion_ids: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame({"promotion_id": []}, {"promotion_id": pl.String})
    )
    fee_schedule_supplied: bool = False


# ---------------------------------------------------------------- column casts


def _cast(col: Col, dtype: pl.DataType, done: pl.Expr) -> tuple[pl.Expr, pl.Expr, str]:
    """(canonical value, first reason or null, output name) for one raw column.

    The reason reads the value from `done`, the column the value is computed into first: Polars
    does not share a `when` chain between two outputs of one `select`, so each would be computed twice.
    The column's default (if any) fills the value's nulls after the reason is known.
    """
    raw = pl.col(col.name)
    name = col.name
    reason: pl.Expr = pl.lit(None, pl.String)
    if col.kind in ("id", "text", "enum"):
        value = raw.cast(pl.String)
        if col.kind == "id":
            value = value.str.strip_chars()
            value = pl.when(value == "").then(None).otherwise(value)
        if col.kind == "enum":
            value = value.str.strip_chars()
            if col.name == "condition":
                value = value.fill_null("none")
            reason = pl.when(done.is_not_null() & ~done.is_in(list(col.enum))).then(pl.lit("bad_enum"))
    elif col.kind == "money":
        value, reason = parse_fixed_typed(raw, dtype, 2, "sub_cent")
        reason = _within(reason, done, MAX_AMOUNT_CENTS)
        name = f"{col.name}_cents"
    elif col.kind == "rate":
        value, reason = parse_fixed_typed(raw, dtype, 6, "too_precise")
        reason = (
            pl.when(reason.is_null() & ((done < 0) | (done > 1_000_000))).then(pl.lit("out_of_range")).otherwise(reason)
        )
        name = f"{col.name}_ppm"
    elif col.kind == "value":
        value, reason = parse_fixed_typed(raw, dtype, 2, "too_precise")
        reason = _within(reason, done, MAX_AMOUNT_CENTS)
        name = f"{col.name}_x100"
    elif col.kind == "count":
        if dtype.is_integer():
            value = raw.cast(pl.Int64, strict=False)  # an unsigned value beyond Int64 is null, then out of range
            reason = pl.when(raw.is_not_null() & done.is_null()).then(pl.lit("out_of_range"))
        else:
            value, reason = parse_fixed(raw, 0, "invalid_value")
        reason = _within(reason, done, MAX_COUNT)
    elif col.kind == "bool":
        if dtype == pl.Boolean:
            value = raw
        else:
            text = raw.cast(pl.String).str.strip_chars().str.to_lowercase()
            value = (
                pl.when(text.is_in(["true", "1", "yes", "t", "y"]))
                .then(True)
                .when(text.is_in(["false", "0", "no", "f", "n"]))
                .then(False)
            )
            reason = pl.when(text.is_not_null() & done.is_null()).then(pl.lit("invalid_value"))
    elif col.kind == "timestamp":
        value, reason = _cast_timestamp(raw, dtype)
    elif col.kind == "date":
        if dtype == pl.Date:
            value = raw
        elif isinstance(dtype, pl.Datetime):
            value = raw.dt.date()
        else:
            value = raw.cast(pl.String).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
            reason = pl.when(raw.is_not_null() & done.is_null()).then(pl.lit("invalid_value"))
    else:  # pragma: no cover - the contract has no other kind
        raise AssertionError(col.kind)
    if col.default is None and not col.nullable:
        reason = pl.when(done.is_null() & reason.is_null()).then(pl.lit("missing_value")).otherwise(reason)
    return value, reason, name


def _within(reason: pl.Expr, done: pl.Expr, bound: int) -> pl.Expr:
    """`reason`, or `out_of_range` where the value read is beyond `bound` in magnitude (`schemas.inputs`)."""
    # Two comparisons, not `abs()`: the absolute value of the smallest Int64 wraps to itself.
    return pl.when(reason.is_null() & ((done > bound) | (done < -bound))).then(pl.lit("out_of_range")).otherwise(reason)


def _cast_timestamp(raw: pl.Expr, dtype: pl.DataType) -> tuple[pl.Expr, pl.Expr]:
    """UTC-aware timestamps pass (converted to UTC); naive ones are rejected, never guessed."""
    if isinstance(dtype, pl.Datetime):
        if dtype.time_zone is None:
            return pl.lit(None, UTC), pl.when(raw.is_not_null()).then(pl.lit("naive_timestamp"))
        return raw.dt.convert_time_zone("UTC").dt.cast_time_unit("us"), pl.lit(None, pl.String)
    if dtype == pl.Date:
        return pl.lit(None, UTC), pl.when(raw.is_not_null()).then(pl.lit("naive_timestamp"))
    text = raw.cast(pl.String).str.strip_chars().str.replace(r"[zZ]$", "+00:00").str.replace(" ", "T")
    has_offset = text.str.contains(r"[+-]\d\d:?\d\d$")
    parsed = text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%:z", strict=False, time_unit="us")
    parsed = pl.coalesce(parsed, text.str.to_datetime("%Y-%m-%dT%H:%M:%S%.f%z", strict=False, time_unit="us"))
    reason = (
        pl.when(text.is_null())
        .then(pl.lit(None, pl.String))
        .when(~has_offset)
        .then(pl.lit("naive_timestamp"))
        .when(parsed.is_null())
        .then(pl.lit("invalid_value"))
    )
    return parsed.dt.convert_time_zone("UTC"), reason


# ---------------------------------------------------------------- failures


def _failure(column: str, reason: pl.Expr, value: pl.Expr) -> pl.Expr:
    return pl.when(reason.is_not_null()).then(
        pl.struct(column=pl.lit(column), reason=reason, value=value.cast(pl.String))
    )


def _first_failure(failures: list[pl.Expr]) -> pl.Expr:
    """The first failing check in declaration order, or null."""
    if not failures:
        return pl.lit(None, _FAIL_DTYPE)
    return pl.coalesce(failures).cast(_FAIL_DTYPE)


def _reject_where(frame: pl.DataFrame, condition: pl.Expr, column: str, reason: str, value: pl.Expr) -> pl.DataFrame:
    """Mark rows not yet rejected that meet `condition` with one more failure.

    Most rules reject nothing: the condition is evaluated first (one boolean column), and the
    failure column is rewritten only when some row does fail.
    """
    hit = pl.col(_FAIL).is_null() & condition.fill_null(False)
    if not frame.select(hit.any()).item():
        return frame
    new = (
        pl.when(hit)
        .then(pl.struct(column=pl.lit(column), reason=pl.lit(reason), value=value.cast(pl.String)))
        .otherwise(pl.col(_FAIL))
    )
    return frame.with_columns(new.cast(_FAIL_DTYPE).alias(_FAIL))


def _not_among(frame: pl.DataFrame, ids: pl.DataFrame) -> pl.Expr:
    """Rows of `frame` whose `order_id` is not one of `ids`' `order_id`s (a null ID is never one).

    An anti join on the IDs alone finds the few offending IDs (usually none), so the row test is
    against that small set, not against a hash set of millions of IDs. When both come sorted by
    ID (as exports usually do), their distinct IDs are read from the runs without hashing, and
    when those are the same list, no row is offending.
    """
    mine, theirs = frame.select("order_id"), ids.select("order_id")
    runs = run_values(mine, "order_id"), run_values(theirs, "order_id")
    if runs[0] is not None and runs[1] is not None:
        if runs[0].equals(runs[1]):
            return pl.lit(False)
        mine, theirs = runs[0].to_frame(), runs[1].to_frame()
    found = mine.join(theirs, on="order_id", how="anti").drop_nulls().unique()
    return pl.col("order_id").is_in(found["order_id"].implode())


def _ok(frame: pl.DataFrame) -> pl.DataFrame:
    """The rows not rejected; the frame itself when none is (no copy of a table of millions of rows)."""
    if frame.get_column(_FAIL).null_count() == frame.height:
        return frame
    return frame.filter(pl.col(_FAIL).is_null())


RawTable = pl.DataFrame | Iterable[pl.DataFrame]
"""A raw input table: one frame, or its rows in file order as consecutive chunks (so that the
raw text of a big table is never held whole: each chunk is cast, then dropped)."""


def _cast_table(table: str, raw: RawTable, extra_rules=None) -> pl.DataFrame:
    """Cast one raw table; returns canonical columns plus `row_number`, `_key` and `_failure`.

    Every cast is per row, so a table given in chunks is cast a chunk at a time (rows numbered
    on from the chunk before) and the typed chunks put together: the same frame as from one
    frame. The rules that compare rows (duplicate keys) run on the whole typed table."""
    chunks = [raw] if isinstance(raw, pl.DataFrame) else raw
    typed, offset = [], 0
    for chunk in chunks:
        typed.append(_cast_chunk(table, chunk, offset))
        offset += chunk.height
    frame = _contiguous(typed or [_cast_chunk(table, _empty(table), 0)])
    keys = TABLE_KEYS.get(table, ())
    # The raw text of each column, for messages about row rules.
    for column, reason, condition in extra_rules or ():
        frame = _reject_where(frame, condition, column, reason, pl.col(_output_name(table, column)))
    # Keys in strictly increasing order (as exports usually come) cannot repeat: one comparison
    # with the previous row then replaces hashing every key.
    if keys and not frame.select(in_key_order([_KEY])).item():
        frame = _reject_where(frame, pl.len().over(_KEY) > 1, keys[-1], "duplicate_key", pl.col(_KEY))
    return frame


def _contiguous(frames: list[pl.DataFrame]) -> pl.DataFrame:
    """`frames` one after another, every column in one piece, built a column at a time (each
    column's pieces are let go as it is copied, so the copy costs one column, not the table).

    Columns in pieces of different lengths (a table's casts beside its file's row groups) make
    Polars copy the whole frame into one piece again at every `select`, `filter` or `join`:
    about a gigabyte and half a second each on 10M order lines."""
    failures = [f.drop_in_place(_FAIL) for f in frames]
    frame = pl.DataFrame(
        [pl.concat([f.drop_in_place(name) for f in frames], rechunk=True) for name in frames[0].columns]
    )
    if all(f.null_count() == f.len() for f in failures):  # a constant: never a column of millions of empty structs
        return frame.with_columns(pl.lit(None, _FAIL_DTYPE).alias(_FAIL))
    return frame.with_columns(pl.concat(failures, rechunk=True).alias(_FAIL))


def _cast_chunk(table: str, raw: pl.DataFrame, offset: int) -> pl.DataFrame:
    """`_cast_table` of the rows of one chunk, the first of them row `offset + 1` of the table."""
    cols = INPUT_TABLES[table]
    for col in cols:
        if col.required and col.name not in raw.columns:
            raise InputContractError(table, col.name, f"{table}: required column '{col.name}' is missing")
    # Only the contract's columns are read: an input column that shares a name the job uses
    # inside (`row_number`, say) is another file's business, never a collision.
    # One piece per column (a file's row groups are pieces): the row numbers added below would
    # otherwise be in other pieces than the columns, and every step would copy the chunk whole.
    raw, unreadable = _readable(raw.rechunk(), cols)
    frame = raw.with_row_index(_ROW, offset=offset + 1).with_columns(pl.col(_ROW).cast(pl.Int64))
    frame = frame.with_columns(
        pl.lit(col.default if col.default is not None else None).alias(col.name)
        for col in cols
        if col.name not in raw.columns
    )
    keys = TABLE_KEYS.get(table, ())
    key = (
        pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in keys], separator="|")
        if keys
        else pl.col(_ROW).cast(pl.String)
    )
    done = [f"_value_{i}" for i in range(len(cols))]
    casts = [(col, *_cast(col, frame.schema[col.name], pl.col(d))) for col, d in zip(cols, done, strict=True)]
    casts = [
        (col, value, pl.when(pl.col(unreadable[col.name])).then(pl.lit("invalid_value")).otherwise(reason), name)
        if col.name in unreadable
        else (col, value, reason, name)
        for col, value, reason, name in casts
    ]
    reasons = [f"_reason_{i}" for i in range(len(casts))]
    # The values first, beside the raw columns; then each reason from its value and the raw column.
    typed = frame.with_columns(value.alias(d) for (_, value, _, _), d in zip(casts, done, strict=True)).select(
        pl.col(_ROW),
        key.alias(_KEY),
        *[
            (pl.col(d) if col.default is None else pl.col(d).fill_null(col.default)).alias(name)
            for (col, _, _, name), d in zip(casts, done, strict=True)
        ],
        *[reason.alias(r) for (_, _, reason, _), r in zip(casts, reasons, strict=True)],
    )
    # The first failure (column, reason, raw value) is built only for the rows that fail: text
    # for every value of every row would cost more than all the casts.
    failing = typed.filter(pl.any_horizontal([pl.col(r).is_not_null() for r in reasons])).select(_ROW, *reasons)
    failing = failing.join(frame, on=_ROW, how="left").select(
        _ROW,
        _first_failure(
            [_failure(col.name, pl.col(r), pl.col(col.name)) for (col, *_), r in zip(casts, reasons, strict=True)]
        ).alias(_FAIL),
    )
    if failing.height:
        frame = typed.drop(reasons).join(failing, on=_ROW, how="left", maintain_order="left")
    else:
        frame = typed.drop(reasons).with_columns(pl.lit(None, _FAIL_DTYPE).alias(_FAIL))
    return frame


def _readable(raw: pl.DataFrame, cols: tuple[Col, ...]) -> tuple[pl.DataFrame, dict[str, str]]:
    """The contract's columns of `raw`, each in a type its cast can read, and the name of a flag
    column per column that holds values no cast can read: true on those rows.

    A value of another type (a list, a struct, a duration) holds no value of a contract type, and
    bytes that are not UTF-8 have no text: each shows as its type (`<binary>`) and is rejected as `invalid_value`,
    like any other bad value; it can neither crash a cast nor pass as an ID. Bytes that are UTF-8
    (a Parquet writer that leaves out the string annotation) are read as the text they are."""
    present = [c.name for c in cols if c.name in raw.columns]
    binary = [name for name in present if raw.schema[name] == pl.Binary]
    nested = [name for name in present if name not in binary and not _readable_type(raw.schema[name])]
    flags = {name: f"_unreadable_{i}" for i, name in enumerate(binary + nested)}
    if binary:  # Polars cannot decode bytes value by value without failing the whole column; DuckDB can
        with duckdb.connect() as con:
            con.register("raw_bytes", raw.select(binary))
            text = con.sql(
                "SELECT "
                + ", ".join(f'try(decode("{name}")) AS _text_{i}' for i, name in enumerate(binary))
                + " FROM raw_bytes"
            ).pl()
        text.columns = binary
    else:
        text = pl.DataFrame()
    out = raw.select(present).with_columns(
        *[(pl.col(name).is_not_null() & text[name].is_null()).alias(flags[name]) for name in binary],
        *[pl.col(name).is_not_null().alias(flags[name]) for name in nested],
    )
    return out.with_columns(
        *[pl.when(pl.col(flags[name])).then(pl.lit("<binary>")).otherwise(text[name]).alias(name) for name in binary],
        *[pl.when(pl.col(flags[name])).then(pl.lit(f"<{raw.schema[name]}>")).alias(name) for name in nested],
    ), flags


def _readable_type(dtype: pl.DataType) -> bool:
    """Types whose values every cast of `_cast` reads, or rejects value by value."""
    return (
        dtype in (pl.String, pl.Boolean, pl.Date, pl.Null)
        or dtype.is_numeric()
        or isinstance(dtype, pl.Datetime | pl.Categorical | pl.Enum)
    )


def _output_name(table: str, column: str) -> str:
    for col in INPUT_TABLES[table]:
        if col.name == column:
            return {"money": f"{column}_cents", "rate": f"{column}_ppm", "value": f"{column}_x100"}.get(
                col.kind, column
            )
    return column


def _rejected(table: str, frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.col(_FAIL).is_not_null()).select(
        pl.lit(table).alias("table"),
        pl.col(_ROW).alias("row_number"),
        pl.col(_KEY).alias("key"),
        pl.col(_FAIL).struct.field("column").alias("column"),
        pl.col(_FAIL).struct.field("reason").alias("reason"),
        pl.col(_FAIL).struct.field("value").alias("value"),
    )


def _empty(table: str) -> pl.DataFrame:
    """An empty raw table with the contract's columns (for optional tables not supplied)."""
    return pl.DataFrame(
        {c.name: [] for c in INPUT_TABLES[table]}, schema={c.name: pl.String for c in INPUT_TABLES[table]}
    )


# ---------------------------------------------------------------- tables


def _stage_fee_schedule(raw: pl.DataFrame | None) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    if raw is None:
        default = pl.DataFrame(
            DEFAULT_FEE_SCHEDULE,
            schema={
                "effective_from": pl.String,
                "referral_fee_rate_ppm": pl.Int64,
                "refund_admin_fee_rate_ppm": pl.Int64,
                "refund_admin_fee_cap_cents": pl.Int64,
            },
            orient="row",
        ).with_columns(pl.col("effective_from").str.to_date())
        return default, None
    rules = [("refund_admin_fee_cap", "out_of_range", pl.col("refund_admin_fee_cap_cents") < 0)]
    frame = _cast_table("fee_schedule", raw, rules)
    return frame, frame


def stage(raw: dict[str, RawTable]) -> Staged:
    """Stage every input table (docs/stacking.md). `raw` maps table name → raw frame; optional tables may be absent.

    `orders`, `order_lines` and `refunds` may come as consecutive chunks (`RawTable`, as the
    flow reads them): each is cast a chunk at a time, with the same result."""
    for table in INPUT_TABLES:
        if table not in raw and table not in (
            "fee_schedule",
            "opt_out_events",
            "refunds",
            "promotions",
            "promotion_products",
        ):
            raise InputContractError(table, None, f"required table '{table}' is missing")
    raw = {
        t: raw.get(t) if raw.get(t) is not None else (_empty(t) if t != "fee_schedule" else None) for t in INPUT_TABLES
    }

    fees_canonical, fees_frame = _stage_fee_schedule(raw["fee_schedule"])
    if fees_frame is not None:
        fees_canonical = _ok(fees_frame).drop(_ROW, _KEY, _FAIL)
    fees_canonical = fees_canonical.drop(_ROW, strict=False).sort("effective_from")
    first_fee_date = fees_canonical["effective_from"].min()

    orders = _cast_table(
        "orders",
        raw["orders"],
        [
            ("shipping_fee", "out_of_range", pl.col("shipping_fee_cents") < 0),
            ("actual_shipping_fee", "out_of_range", pl.col("actual_shipping_fee_cents") < 0),
            ("sales_tax", "out_of_range", pl.col("sales_tax_cents") < 0),
            ("delivered_at", "delivered_before_created", pl.col("delivered_at") < pl.col("created_at")),
        ],
    )
    # A shop's currency is that of its earliest valid order (ties: the smaller order_id).
    shop_currency = (
        _ok(orders)
        .sort("created_at", "order_id")
        .group_by("shop_id", maintain_order=True)
        .agg(pl.col("currency").first().alias("_shop_currency"))
    )
    orders = orders.join(shop_currency, on="shop_id", how="left")
    orders = _reject_where(
        orders, pl.col("currency") != pl.col("_shop_currency"), "currency", "foreign_currency", pl.col("currency")
    )
    if first_fee_date is None:
        orders = _reject_where(orders, pl.lit(True), "created_at", "no_fee_rate", pl.col("created_at"))
    else:
        orders = _reject_where(
            orders, pl.col("created_at").dt.date() < first_fee_date, "created_at", "no_fee_rate", pl.col("created_at")
        )
    orders = orders.drop("_shop_currency")

    lines = _cast_table(
        "order_lines",
        raw["order_lines"],
        [
            ("quantity", "out_of_range", pl.col("quantity") < 1),
            ("unit_price", "out_of_range", pl.col("unit_price_cents") <= 0),
            # Both factors are bounded, so their product fits Int64; the line's gross sales are bounded too.
            ("quantity", "out_of_range", pl.col("quantity") * pl.col("unit_price_cents") > MAX_LINE_GROSS_CENTS),
        ],
    )
    order_ids = orders.select("order_id")
    lines = _reject_where(lines, _not_among(lines, order_ids), "order_id", "unknown_order", pl.col("order_id"))
    # An order with a rejected line, or none, cannot be priced: it goes whole, lines with it.
    bad_line_orders = lines.filter(pl.col(_FAIL).is_not_null()).select("order_id").unique()
    orders = _reject_where(
        orders,
        pl.col("order_id").is_in(bad_line_orders["order_id"].implode()),
        "order_id",
        "line_rejected",
        pl.col("order_id"),
    )
    orders = _reject_where(
        orders, _not_among(orders, lines.select("order_id")), "order_id", "no_lines", pl.col("order_id")
    )
    good_orders = _ok(orders).select("order_id")
    # A line or refund that passed `unknown_order` has an order in the file: its order is rejected
    # exactly when its ID has rejected rows and no accepted one. That set is small (usually empty),
    # so the test below never hashes the millions of accepted IDs.
    rejected_ids = orders.filter(pl.col(_FAIL).is_not_null()).select("order_id").unique()
    rejected_ids = rejected_ids.join(
        good_orders.join(rejected_ids, on="order_id", how="semi"), on="order_id", how="anti"
    )["order_id"].implode()
    lines = _reject_where(
        lines, pl.col("order_id").is_in(rejected_ids), "order_id", "order_rejected", pl.col("order_id")
    )

    refunds = _cast_table("refunds", raw["refunds"], [("quantity", "out_of_range", pl.col("quantity") < 1)])
    refunds = refunds.with_columns(pl.col("refund_shipping").fill_null(False))
    # Refunds are few: only the orders and lines of refunded orders are joined to them.
    refunded = refunds.select("order_id").unique()
    refunds = _reject_where(
        refunds,
        _not_among(refunds, order_ids.join(refunded, on="order_id", how="semi")),
        "order_id",
        "unknown_order",
        pl.col("order_id"),
    )
    refunds = _reject_where(
        refunds, pl.col("order_id").is_in(rejected_ids), "order_id", "order_rejected", pl.col("order_id")
    )
    line_keys = (
        _ok(lines)
        .join(refunded, on="order_id", how="semi")
        .select("order_id", "sku_id", pl.col("quantity").alias("_line_quantity"))
    )
    refunds = refunds.join(line_keys, on=["order_id", "sku_id"], how="left")
    refunds = _reject_where(refunds, pl.col("_line_quantity").is_null(), "sku_id", "unknown_line", pl.col("sku_id"))
    created = (
        _ok(orders)
        .join(refunded, on="order_id", how="semi")
        .select("order_id", pl.col("created_at").alias("_created_at"))
    )
    refunds = refunds.join(created, on="order_id", how="left")
    refunds = _reject_where(
        refunds,
        pl.col("refunded_at") < pl.col("_created_at"),
        "refunded_at",
        "refunded_before_created",
        pl.col("refunded_at"),
    )
    refunds = _sequence_refunds(refunds).drop("_line_quantity", "_created_at")

    promotions, scope, invalid_ids = _stage_promotions(raw["promotions"], raw["promotion_products"])
    events = _cast_table("opt_out_events", raw["opt_out_events"])

    frames = {
        "orders": orders,
        "order_lines": lines,
        "promotions": promotions,
        "promotion_products": scope,
        "opt_out_events": events,
        "refunds": refunds,
    }
    if fees_frame is not None:
        frames["fee_schedule"] = fees_frame
    rejected = pl.concat([_rejected(t, f) for t, f in frames.items()], how="vertical").cast(dtypes(RejectedRows))
    counts = {
        t: {"rows_in": f.height, "accepted": _ok(f).height, "rejected": f.height - _ok(f).height}
        for t, f in frames.items()
    }
    # `row_number` (1-based, in the file) stays on every staged row, for later rejections.
    tables = {t: _ok(f).drop(_KEY, _FAIL) for t, f in frames.items()}
    tables["opt_out_events"] = tables["opt_out_events"].with_columns(pl.col(_ROW).alias("event_seq"))
    tables["fee_schedule"] = fees_canonical
    tables["promotions"] = tables["promotions"].with_columns(
        pl.col("promotion_type").replace_strict(FUNDED_BY, return_dtype=pl.String).alias("funded_by")
    )
    return Staged(
        tables=tables,
        rejected_rows=rejected.sort("table", "row_number"),
        counts=counts,
        invalid_promotion_ids=invalid_ids,
        fee_schedule_supplied=fees_frame is not None,
    )


def _sequence_refunds(refunds: pl.DataFrame) -> pl.DataFrame:
    """`over_refund` and `shipping_already_refunded` (docs/stacking.md Refunds), in refund order.

    An order's refunds are taken in (`refunded_at`, `refund_id`) order; a rejected refund
    neither consumes units nor uses up the order's one shipping refund, so acceptance is decided
    one rank at a time (vectorised over all orders per rank; an order rarely has many refunds).
    """
    refunds = refunds.sort("order_id", "refunded_at", "refund_id", nulls_last=True)
    candidates = refunds.filter(pl.col(_FAIL).is_null()).with_columns(
        pl.int_range(pl.len()).over("order_id").alias("_rank")
    )
    remaining = candidates.group_by("order_id", "sku_id").agg(pl.col("_line_quantity").first().alias("_remaining"))
    shipped = candidates.select("order_id").unique().with_columns(pl.lit(False).alias("_shipped"))
    verdicts: list[pl.DataFrame] = []
    max_rank = candidates["_rank"].max()
    for rank in range(0 if max_rank is None else max_rank + 1):
        step = (
            candidates.filter(pl.col("_rank") == rank)
            .join(remaining, on=["order_id", "sku_id"], how="left")
            .join(shipped, on="order_id", how="left")
            .with_columns(
                pl.when(pl.col("quantity") > pl.col("_remaining"))
                .then(pl.lit("over_refund"))
                .when(pl.col("refund_shipping") & pl.col("_shipped"))
                .then(pl.lit("shipping_already_refunded"))
                .alias("_verdict")
            )
        )
        verdicts.append(step.filter(pl.col("_verdict").is_not_null()).select("refund_id", "_verdict"))
        taken = step.filter(pl.col("_verdict").is_null())
        remaining = remaining.join(
            taken.select("order_id", "sku_id", pl.col("quantity").alias("_taken")),
            on=["order_id", "sku_id"],
            how="left",
        ).select("order_id", "sku_id", (pl.col("_remaining") - pl.col("_taken").fill_null(0)).alias("_remaining"))
        newly = (
            taken.filter(pl.col("refund_shipping")).select("order_id").unique().with_columns(pl.lit(True).alias("_now"))
        )
        shipped = shipped.join(newly, on="order_id", how="left").select(
            "order_id", (pl.col("_shipped") | pl.col("_now").fill_null(False)).alias("_shipped")
        )
    rejected = pl.concat(verdicts) if verdicts else pl.DataFrame(schema={"refund_id": pl.String, "_verdict": pl.String})
    refunds = refunds.join(rejected, on="refund_id", how="left")
    refunds = _reject_where(refunds, pl.col("_verdict") == "over_refund", "quantity", "over_refund", pl.col("quantity"))
    refunds = _reject_where(
        refunds,
        pl.col("_verdict") == "shipping_already_refunded",
        "refund_shipping",
        "shipping_already_refunded",
        pl.col("refund_shipping"),
    )
    return refunds.drop("_verdict")


_TIER_SHARED = (
    "promotion_type",
    "shop_id",
    "starts_at",
    "ends_at",
    "discount_kind",
    "max_discount_cents",
    "condition",
    "campaign_id",
)


def _stage_promotions(
    raw_promotions: pl.DataFrame, raw_scope: pl.DataFrame
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    kind, ptype = pl.col("discount_kind"), pl.col("promotion_type")
    value = pl.col("discount_value_x100")
    allowed_kind = pl.lit(False)
    for t, kinds in ALLOWED_KINDS.items():
        allowed_kind = allowed_kind | ((ptype == t) & kind.is_in(list(kinds)))
    rules = [
        ("tier", "out_of_range", (pl.col("tier") < 1) | (~ptype.is_in(list(BMSM_TYPES)) & (pl.col("tier") != 1))),
        ("shop_id", "platform_shop_required", ptype.is_in(list(SELLER_TYPES)) & pl.col("shop_id").is_null()),
        ("ends_at", "ends_before_start", pl.col("ends_at") <= pl.col("starts_at")),
        ("discount_kind", "kind_not_allowed", ~allowed_kind),
        ("discount_value", "missing_value", (kind != "free_shipping") & value.is_null()),
        ("discount_value", "out_of_range", (kind == "percent_off") & ((value <= 0) | (value > 10_000))),
        ("discount_value", "out_of_range", (kind == "amount_off") & (value <= 0)),
        ("discount_value", "out_of_range", (kind == "fixed_price") & (value < 0)),
        (
            "min_spend",
            "threshold_not_allowed",
            pl.col("min_spend_cents").is_not_null() & ~ptype.is_in(list(ALLOWS_MIN_SPEND)),
        ),
        (
            "min_quantity",
            "threshold_not_allowed",
            pl.col("min_quantity").is_not_null() & ~ptype.is_in(list(ALLOWS_MIN_QUANTITY)),
        ),
        (
            "min_quantity",
            "no_threshold",
            ptype.is_in(list(BMSM_TYPES)) & pl.col("min_quantity").is_null() & pl.col("min_spend_cents").is_null(),
        ),
        ("min_quantity", "out_of_range", pl.col("min_quantity") < 1),
        ("min_spend", "out_of_range", pl.col("min_spend_cents") < 0),
        ("max_discount", "out_of_range", pl.col("max_discount_cents") < 0),
    ]
    promotions = _cast_table("promotions", raw_promotions, rules)
    # Tier rows of one promotion agree on everything but each tier's discount and thresholds.
    valid = _ok(promotions)
    disagree = (
        valid.group_by("promotion_id")
        .agg(pl.max_horizontal(*[pl.col(c).n_unique() for c in _TIER_SHARED]).alias("_variants"))
        .filter(pl.col("_variants") > 1)
    )
    promotions = _reject_where(
        promotions,
        pl.col("promotion_id").is_in(disagree["promotion_id"].implode()),
        "promotion_id",
        "inconsistent_tiers",
        pl.col("promotion_id"),
    )

    scope = _cast_table("promotion_products", raw_scope)
    raw_ids = promotions.select("promotion_id").unique()
    scope = _reject_where(
        scope,
        ~pl.col("promotion_id").is_in(raw_ids["promotion_id"].implode()),
        "promotion_id",
        "unknown_promotion",
        pl.col("promotion_id"),
    )
    # A promotion whose scope rows were all rejected would silently widen to every product.
    with_scope = scope.group_by("promotion_id").agg(pl.col(_FAIL).is_null().any().alias("_any_ok"))
    lost_scope = with_scope.filter(~pl.col("_any_ok"))
    promotions = _reject_where(
        promotions,
        pl.col("promotion_id").is_in(lost_scope["promotion_id"].implode()),
        "promotion_id",
        "scope_rejected",
        pl.col("promotion_id"),
    )
    bad_ids = promotions.filter(pl.col(_FAIL).is_not_null()).select("promotion_id").unique()
    promotions = _reject_where(
        promotions,
        pl.col("promotion_id").is_in(bad_ids["promotion_id"].implode()),
        "promotion_id",
        "tier_rejected",
        pl.col("promotion_id"),
    )
    scope = _reject_where(
        scope,
        pl.col("promotion_id").is_in(bad_ids["promotion_id"].implode()),
        "promotion_id",
        "promotion_rejected",
        pl.col("promotion_id"),
    )
    invalid_ids = bad_ids.filter(pl.col("promotion_id").is_not_null()).sort("promotion_id")
    return promotions, scope, invalid_ids
