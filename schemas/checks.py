"""Checks shared by the contracts."""

import pandera.polars as pa
import polars as pl


def _greater(column: str, nulls_last: bool) -> tuple[pl.Expr, pl.Expr]:
    """(this row's value > the previous row's, the two are equal), with null the largest value
    (`nulls_last`) or the smallest: a strict total order, whatever the column holds."""
    this, previous = pl.col(column), pl.col(column).shift()
    null_greater = (
        (this.is_null() & previous.is_not_null()) if nulls_last else (this.is_not_null() & previous.is_null())
    )
    greater = pl.when(this.is_null() | previous.is_null()).then(null_greater).otherwise(this > previous)
    return greater, this.eq_missing(previous)


def in_key_order(keys: list[str], strict: bool = True, nulls_last: bool = False) -> pl.Expr:
    """True when every row's key (`keys` in order, compared lexicographically, null the smallest
    value or with `nulls_last` the largest) is greater than the previous row's (or not smaller,
    unless `strict`): one comparison per row. Strictly increasing keys cannot repeat."""
    greater, equal = _greater(keys[-1], nulls_last)
    after = greater if strict else greater | equal
    for column in reversed(keys[:-1]):
        this_greater, this_equal = _greater(column, nulls_last)
        after = this_greater | (this_equal & after)
    return ((pl.int_range(pl.len()) == 0) | after).all()


def run_values(frame: pl.DataFrame, column: str) -> pl.Series | None:
    """The value of each run of equal values of `column`, in order, when the column comes sorted
    (nulls first; one comparison per row): its distinct values, sorted, without hashing. None
    when the column is not sorted."""
    if not frame.select(in_key_order([column], strict=False)).item():
        return None
    value = pl.col(column)
    return frame.select(value.filter((pl.int_range(pl.len()) == 0) | value.ne_missing(value.shift()))).to_series()


def unique_rows(data: pa.PolarsData, keys: list[str], nulls_last: bool = False) -> pl.LazyFrame:
    """One boolean per row: its key (the `keys` columns together) appears once in the frame.

    Rows in strictly increasing key order (as the job keeps most of its tables, sorted by `keys`
    in this order with nulls first or last) cannot repeat a key, and one comparison of each row
    with the one before proves it. Otherwise every key is hashed (`is_duplicated`), with nulls
    equal to each other, as in Pandera's own `unique`. Either way every row is checked.
    """
    frame = data.lazyframe
    if frame.select(in_key_order(keys, nulls_last=nulls_last)).collect().item():
        return frame.select(pl.repeat(True, pl.len()).alias("unique"))
    key = pl.col(keys[0]) if len(keys) == 1 else pl.struct(keys)
    return frame.select((~key.is_duplicated()).alias("unique"))
