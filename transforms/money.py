"""Exact money: parsing raw values to integer units, half-up rounding, and the one edge
conversion of cents to `Decimal(18,2)`.

Inside the job money is integer cents (`*_cents`), rates integer millionths (`*_ppm`) and
discount values integer hundredths (`*_x100`: hundredths of a percent point, or cents, by the discount kind). Nothing here goes through a float:
raw values are read from their exact (or, for floats, shortest round-trip) decimal text.
"""

from decimal import Decimal

import polars as pl

_FIXED = r"^([+-]?)([0-9]*)(?:\.([0-9]*))?$"  # ASCII digits only: `\d` would also match other scripts' digits
_MAX_INT_DIGITS = 15


def parse_fixed_typed(
    raw: pl.Expr, dtype: pl.DataType, scale: int, too_precise: str = "sub_cent"
) -> tuple[pl.Expr, pl.Expr]:
    """`parse_fixed`, with exact fast paths for integer and Decimal columns of at most `scale`
    places (the usual Parquet types): no text round trip for them."""
    if dtype.is_integer():
        value = raw.cast(pl.Int128) * (10**scale)
        out_of_range = value.abs() >= 10 ** (_MAX_INT_DIGITS + scale)
        return pl.when(out_of_range).then(None).otherwise(value).cast(pl.Int64), pl.when(out_of_range).then(
            pl.lit("out_of_range")
        )
    if isinstance(dtype, pl.Decimal) and dtype.scale <= scale:
        units = raw.to_physical().cast(pl.Int128) * (10 ** (scale - dtype.scale))  # the unscaled integer, exactly
        out_of_range = units.abs() >= 10 ** (_MAX_INT_DIGITS + scale)
        return pl.when(out_of_range).then(None).otherwise(units).cast(pl.Int64), pl.when(out_of_range).then(
            pl.lit("out_of_range")
        )
    return parse_fixed(raw, scale, too_precise)


def parse_fixed(raw: pl.Expr, scale: int, too_precise: str = "sub_cent") -> tuple[pl.Expr, pl.Expr]:
    """Read a decimal, integer, float or string column as an integer count of 10**-scale units.

    Returns `(value, reason)`: `value` is Int64 (null where unreadable), `reason` is null or a
    rejection code — `invalid_value` for text that is not a plain decimal number, `too_precise`
    (or the caller's code, e.g. `sub_cent`) for digits finer than `scale`, `out_of_range` for
    absurdly large magnitudes. Floats are read from their shortest round-trip text, so 1.1 is
    110 cents and 1.005 is rejected rather than rounded (docs/stacking.md).
    """
    text = raw.cast(pl.String).str.strip_chars()
    parts = text.str.extract_groups(_FIXED)
    sign, whole, frac = (parts.struct.field(name) for name in ("1", "2", "3"))
    whole = whole.fill_null("")
    frac = frac.fill_null("")
    frac_trim = frac.str.strip_chars_end("0")
    matched = whole.is_not_null() & ((whole.str.len_chars() + frac.str.len_chars()) > 0)
    matched = matched & text.str.contains(_FIXED)
    whole_digits = whole.str.strip_chars_start("0").str.len_chars()
    scaled_frac = frac_trim.str.pad_end(scale, "0").str.slice(0, scale) if scale else pl.lit("")
    units = pl.when(whole == "").then(0).otherwise(whole.cast(pl.Int64, strict=False)) * (10**scale)
    if scale:
        units = units + pl.when(scaled_frac == "").then(0).otherwise(scaled_frac.cast(pl.Int64, strict=False))
    units = pl.when(sign == "-").then(-units).otherwise(units)
    reason = (
        pl.when(text.is_null())
        .then(pl.lit(None, pl.String))
        .when(~matched)
        .then(pl.lit("invalid_value"))
        .when(whole_digits > _MAX_INT_DIGITS)
        .then(pl.lit("out_of_range"))
        .when(frac_trim.str.len_chars() > scale)
        .then(pl.lit(too_precise))
    )
    value = pl.when(reason.is_null() & text.is_not_null()).then(units).otherwise(None).cast(pl.Int64)
    return value, reason


def _i128(value: pl.Expr | int) -> pl.Expr:
    return value.cast(pl.Int128) if isinstance(value, pl.Expr) else pl.lit(value, pl.Int128)


def mul_div_half_up(value: pl.Expr | int, factor: pl.Expr | int, denominator: pl.Expr | int) -> pl.Expr:
    """`round(value * factor / denominator)` half away from zero, exactly (denominator > 0).

    The product is taken in Int128 so that cents × millionths never overflows; the result is
    Int64. This is the only rounding rule of the job (docs/stacking.md).
    """
    num = _i128(value) * _i128(factor)
    den = _i128(denominator)
    magnitude = ((num.abs() * 2 + den) // (den * 2)).cast(pl.Int64)
    return pl.when(num < 0).then(-magnitude).otherwise(magnitude)


_GROUPED = r"^[+-]?[0-9]{1,3}(,[0-9]{3})+(\.[0-9]*)?$"  # thousands commas, grouping digits by three


def drop_thousands_commas(text: pl.Expr) -> pl.Expr:
    """`1,249.00` → `1249.00`. Commas that do not group digits by three (`12,50`, a decimal comma)
    stay, so `parse_fixed` rejects the text instead of reading it as 1,250."""
    return (
        pl.when(text.str.contains(",", literal=True) & text.str.contains(_GROUPED))
        .then(text.str.replace_all(",", "", literal=True))
        .otherwise(text)
    )


def units_to_decimal(units: pl.Expr, scale: int = 2) -> pl.Expr:
    """The one place integer units of 10**-scale become an exact `Decimal(18, scale)`."""
    unit = pl.lit(Decimal(1).scaleb(-scale), pl.Decimal(18, scale))
    return (units.cast(pl.Decimal(18, 0)) * unit).cast(pl.Decimal(18, scale))


def cents_to_decimal(cents: pl.Expr) -> pl.Expr:
    """Integer cents → `Decimal(18,2)` (output edge only)."""
    return units_to_decimal(cents, 2)


def money_text(amount: Decimal | int | None, symbol: str = "", *, cents: bool = False) -> str:
    """The one way a report prints money: `1,234.56`, `-$1,234.56` with `symbol="$"`, `` for none.

    `amount` is dollars (a Decimal), or integer cents with `cents=True`; never a float.
    """
    if amount is None:
        return ""
    value = Decimal(amount).scaleb(-2) if cents else Decimal(amount)
    sign = "-" if value < 0 else ""
    return f"{sign}{symbol}{abs(value):,.2f}"


def decimalise(frame: pl.DataFrame) -> pl.DataFrame:
    """Turn every `*_cents` column into a `Decimal(18,2)` column without the suffix."""
    return frame.with_columns(
        cents_to_decimal(pl.col(name)).alias(name.removesuffix("_cents"))
        for name in frame.columns
        if name.endswith("_cents")
    ).drop([name for name in frame.columns if name.endswith("_cents")])
