"""The one allocation of an order-level amount over lines (docs/stacking.md), in integers.

Largest remainder: each line gets `floor(|D| * w / sum(w))`; the cents left over go one each to the
lines with the largest remainders, ties to the smaller `sku_id`; then the sign of `D`. The parts
sum to `D` exactly, and none exceeds its weight when `|D| <= sum(w)`.
"""

import polars as pl

from schemas.checks import in_key_order

_TMP = ("_alloc_total", "_alloc_product", "_alloc_floor", "_alloc_left", "_alloc_key", "_alloc_rank")
_GROUP, _TIE, _ROW = "_alloc_group", "_alloc_tie", "_alloc_row"
_INT64_PRODUCTS = 2**62  # |D| * w below this fits Int64 (and so does every sum of its parts)


def allocate(
    frame: pl.DataFrame, amount: str, weight: str, group: str, out: str, tie_break: str = "sku_id"
) -> pl.DataFrame:
    """`frame` with column `out`: each row's part of `amount` (the same on every row of a group).

    `weight` is each row's weight (integer cents, >= 0); the rows sharing `group` make one
    allocation. With `sum(w) == 0` every part is 0.
    """
    return allocate_many(frame, {out: amount}, weight, group, tie_break)


def allocate_many(
    frame: pl.DataFrame, amounts: dict[str, str], weight: str, group: str, tie_break: str = "sku_id"
) -> pl.DataFrame:
    """`allocate` of several amounts over the same weights and groups: `amounts` maps out → amount.

    The group and tie-break keys (text, often) become integers once, so each amount's sort is on
    integers. When the rows already come sorted by group and tie-break (lines by order and SKU,
    as the engine keeps them), the row's position is the tie-break: no ranking of the text at all.
    """
    frame = frame.with_columns(
        e.alias(name) for e, name in zip(_integer_keys(frame, group, tie_break), (_GROUP, _TIE), strict=True)
    )
    frame = frame.with_columns(pl.col(weight).sum().over(_GROUP).alias(_TMP[0]))
    max_weight = frame.select(pl.col(weight).abs().max()).item() or 0
    for out, amount in amounts.items():
        # Most order-level amounts are zero on most orders: only the groups with one are computed
        # (the amount is the same on every row of a group, so these rows are whole groups).
        max_amount, busy = frame.select(
            pl.col(amount).abs().max().fill_null(0).alias("max"), (pl.col(amount) != 0).sum().alias("busy")
        ).row(0)
        wide = max_amount * max_weight >= _INT64_PRODUCTS
        idle = pl.when(pl.col(amount).is_not_null()).then(pl.lit(0, pl.Int64))  # a missing amount has missing parts
        if busy == frame.height:
            frame = _allocate_one(frame, amount, weight, out, _GROUP, _TIE, wide)
        elif busy == 0:
            frame = frame.with_columns(idle.alias(out))
        else:
            frame = frame.with_row_index(_ROW)
            parts = _allocate_one(
                frame.filter(pl.col(amount) != 0).select(_ROW, _GROUP, _TIE, _TMP[0], amount, weight),
                amount,
                weight,
                out,
                _GROUP,
                _TIE,
                wide,
            ).select(_ROW, out)
            frame = (
                frame.join(parts, on=_ROW, how="left", maintain_order="left")
                .with_columns(pl.coalesce(out, idle).alias(out))
                .drop(_ROW)
            )
    return frame.drop(_GROUP, _TIE, _TMP[0])


def _integer_keys(frame: pl.DataFrame, group: str, tie_break: str) -> tuple[pl.Expr, pl.Expr]:
    """Integers that order the groups, and the rows of a group as `tie_break` does. When the rows
    are sorted by (group, tie-break) already (checked, one comparison per row): the group's run
    number and the row position; else the dense ranks of the text."""
    no_nulls = pl.col(group).is_not_null().all() & pl.col(tie_break).is_not_null().all()
    if frame.select(no_nulls & in_key_order([group, tie_break], strict=False)).item():
        return pl.col(group).rle_id().cast(pl.Int64), pl.int_range(pl.len(), dtype=pl.Int64)
    return pl.col(group).rank("dense").cast(pl.Int64), pl.col(tie_break).rank("dense").cast(pl.Int64)


def _allocate_one(
    frame: pl.DataFrame, amount: str, weight: str, out: str, group: str, tie: str, wide: bool
) -> pl.DataFrame:
    """One amount, with the group's total weight in `_alloc_total`. Intermediate columns are
    materialised stage by stage: a window over a window makes Polars evaluate the inner one per group.
    `wide`: |D| * w may pass Int64, so it is taken in Int128 (every result fits Int64 again)."""
    total, product, floor, left, key, rank = _TMP
    exact = pl.Int128 if wide else pl.Int64
    frame = frame.with_columns((pl.col(amount).abs().cast(exact) * pl.col(weight).cast(exact)).alias(product))
    safe_total = pl.when(pl.col(total) > 0).then(pl.col(total)).otherwise(1).cast(exact)
    frame = frame.with_columns(
        pl.when(pl.col(total) > 0).then(pl.col(product) // safe_total).otherwise(0).cast(pl.Int64).alias(floor),
        # Largest remainder first: `total - remainder` ascending (a remainder is < sum(w): Int64).
        (safe_total - pl.col(product) % safe_total).cast(pl.Int64).alias(key),
    )
    frame = frame.with_columns(
        pl.when(pl.col(total) > 0)
        .then(pl.col(amount).abs() - pl.col(floor).sum().over(group))
        .otherwise(0)
        .alias(left),
        # Rank within the group by (largest remainder, smaller tie), with global operations only:
        # the row's position in one sort by (group, key, tie), less the rows of smaller groups.
        (
            pl.arg_sort_by([pl.col(group), pl.col(key), pl.col(tie)]).arg_sort().cast(pl.Int64)
            - (pl.col(group).rank("min").cast(pl.Int64) - 1)
        ).alias(rank),
    )
    part = pl.col(floor) + pl.when(pl.col(rank) < pl.col(left)).then(1).otherwise(0)
    return frame.with_columns(pl.when(pl.col(amount) < 0).then(-part).otherwise(part).alias(out)).drop(
        product, floor, left, key, rank
    )
