"""The one allocation of an order-level amount over lines (SPEC §1), in integers.

Largest remainder: each line gets `floor(|D| * w / sum(w))`; the cents left over go one each to
the lines with the largest remainders, ties to the smaller `sku_id`; then the sign of `D`.
The parts sum to `D` exactly, and none exceeds its weight when `|D| <= sum(w)`.
"""

import polars as pl


def allocate(
    amount: pl.Expr,
    weight: pl.Expr,
    group: list[str] | str,
    tie_break: pl.Expr | str = "sku_id",
) -> pl.Expr:
    """Expression giving each row its part of `amount` (the same on every row of a group).

    `weight` is each row's weight (integer cents, >= 0); `group` names the columns that make one
    allocation (e.g. the order and the promotion). With `sum(w) == 0` every part is 0.
    """
    tie = pl.col(tie_break) if isinstance(tie_break, str) else tie_break
    total = weight.sum().over(group).cast(pl.Int128)
    magnitude = amount.abs().cast(pl.Int128)
    product = magnitude * weight.cast(pl.Int128)
    safe_total = pl.when(total > 0).then(total).otherwise(1)
    floor_part = pl.when(total > 0).then(product // safe_total).otherwise(0)
    # Order rows by largest remainder first: `total - remainder` ascending avoids negating Int128.
    remainder_key = safe_total - product % safe_total
    left_over = pl.when(total > 0).then(magnitude - floor_part.sum().over(group)).otherwise(0)
    rank = pl.int_range(pl.len()).over(group, order_by=[remainder_key, tie])
    part = (floor_part + pl.when(rank.cast(pl.Int128) < left_over).then(1).otherwise(0)).cast(pl.Int64)
    return pl.when(amount < 0).then(-part).otherwise(part)
