"""The one allocation of an order-level amount over lines (SPEC §1), in integers.

Largest remainder: each line gets `floor(|D| * w / sum(w))`; the cents left over go one each to the
lines with the largest remainders, ties to the smaller `sku_id`; then the sign of `D`. The parts
sum to `D` exactly, and none exceeds its weight when `|D| <= sum(w)`.
"""

import polars as pl

_TMP = ("_alloc_total", "_alloc_product", "_alloc_floor", "_alloc_left", "_alloc_key", "_alloc_rank")
_GROUP, _TIE = "_alloc_group", "_alloc_tie"


def allocate(frame: pl.DataFrame, amount: str, weight: str, group: str, out: str, tie_break: str = "sku_id") -> pl.DataFrame:
    """`frame` with column `out`: each row's part of `amount` (the same on every row of a group).

    `weight` is each row's weight (integer cents, >= 0); the rows sharing `group` make one
    allocation. With `sum(w) == 0` every part is 0.
    """
    frame = frame.with_columns(pl.col(weight).sum().over(group).alias(_TMP[0]))
    return _allocate_one(frame, amount, weight, out, group, tie_break).drop(_TMP[0])


def allocate_many(frame: pl.DataFrame, amounts: dict[str, str], weight: str, group: str, tie_break: str = "sku_id") -> pl.DataFrame:
    """`allocate` of several amounts over the same weights and groups: `amounts` maps out → amount.

    The group and tie-break keys (text, often) are ranked to integers once, so each amount's
    sort is on integers (for one amount, the ranking would cost more than it saves).
    """
    frame = frame.with_columns(
        pl.col(group).rank("dense").cast(pl.Int64).alias(_GROUP),
        pl.col(tie_break).rank("dense").cast(pl.Int64).alias(_TIE),
    )
    frame = frame.with_columns(pl.col(weight).sum().over(_GROUP).alias(_TMP[0]))
    for out, amount in amounts.items():
        frame = _allocate_one(frame, amount, weight, out, _GROUP, _TIE)
    return frame.drop(_GROUP, _TIE, _TMP[0])


def _allocate_one(frame: pl.DataFrame, amount: str, weight: str, out: str, group: str, tie: str) -> pl.DataFrame:
    """One amount, with the group's total weight in `_alloc_total`. Intermediate columns are
    materialised stage by stage: a window over a window makes Polars evaluate the inner one per group."""
    total, product, floor, left, key, rank = _TMP
    # |D| * w can pass Int64; it is taken in Int128, and every result fits Int64 again.
    frame = frame.with_columns((pl.col(amount).abs().cast(pl.Int128) * pl.col(weight).cast(pl.Int128)).alias(product))
    safe_total = pl.when(pl.col(total) > 0).then(pl.col(total)).otherwise(1).cast(pl.Int128)
    frame = frame.with_columns(
        pl.when(pl.col(total) > 0).then(pl.col(product) // safe_total).otherwise(0).cast(pl.Int64).alias(floor),
        # Largest remainder first: `total - remainder` ascending (a remainder is < sum(w): Int64).
        (safe_total - pl.col(product) % safe_total).cast(pl.Int64).alias(key),
    )
    frame = frame.with_columns(
        pl.when(pl.col(total) > 0).then(pl.col(amount).abs() - pl.col(floor).sum().over(group)).otherwise(0).alias(left),
        # Rank within the group by (largest remainder, smaller tie), with global operations only:
        # the row's position in one sort by (group, key, tie), less the rows of smaller groups.
        (
            pl.arg_sort_by([pl.col(group), pl.col(key), pl.col(tie)]).arg_sort().cast(pl.Int64)
            - (pl.col(group).rank("min").cast(pl.Int64) - 1)
        ).alias(rank),
    )
    part = pl.col(floor) + pl.when(pl.col(rank) < pl.col(left)).then(1).otherwise(0)
    return frame.with_columns(pl.when(pl.col(amount) < 0).then(-part).otherwise(part).alias(out)).drop(product, floor, left, key, rank)
