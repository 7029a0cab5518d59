"""The one allocation of an order-level amount over lines (SPEC §1), in integers.

Largest remainder: each line gets `floor(|D| * w / sum(w))`; the cents left over go one each to the
lines with the largest remainders, ties to the smaller `sku_id`; then the sign of `D`. The parts
sum to `D` exactly, and none exceeds its weight when `|D| <= sum(w)`.
"""

import polars as pl

_TMP = ("_alloc_total", "_alloc_product", "_alloc_floor", "_alloc_left", "_alloc_key", "_alloc_rank")


def allocate(frame: pl.DataFrame, amount: str, weight: str, group: str, out: str, tie_break: str = "sku_id") -> pl.DataFrame:
    """`frame` with column `out`: each row's part of `amount` (the same on every row of a group).

    `weight` is each row's weight (integer cents, >= 0); the rows sharing `group` make one
    allocation. With `sum(w) == 0` every part is 0. Intermediate columns are materialised
    stage by stage: a window over a window makes Polars evaluate the inner one per group.
    """
    total, product, floor, left, key, rank = _TMP
    frame = frame.with_columns(pl.col(weight).sum().over(group).alias(total))
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
            pl.arg_sort_by([pl.col(group), pl.col(key), pl.col(tie_break)]).arg_sort().cast(pl.Int64)
            - (pl.col(group).rank("min").cast(pl.Int64) - 1)
        ).alias(rank),
    )
    part = pl.col(floor) + pl.when(pl.col(rank) < pl.col(left)).then(1).otherwise(0)
    return frame.with_columns(pl.when(pl.col(amount) < 0).then(-part).otherwise(part).alias(out)).drop(_TMP)
