"""Exact money (transforms/money.py) against docs/stacking.md "Money" and "Rounding".

Inputs carry at most 2 decimal places as a decimal, a string or a float whose shortest
round-trip form has at most 2 places; anything finer is rejected, never rounded. Rounding is
half up (away from zero), computed exactly and rounded once.
"""

from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.money import cents_to_decimal, decimalise, money_text, mul_div_half_up, parse_fixed

PROPERTY = settings(max_examples=100, deadline=None)


def parse(values: list, dtype: pl.DataType | None = None, scale: int = 2, too_precise: str = "sub_cent") -> list[tuple]:
    """(value, reason) per raw value of a column of `dtype`."""
    frame = pl.DataFrame({"raw": values}, schema={"raw": dtype} if dtype is not None else None)
    value, reason = parse_fixed(pl.col("raw"), scale, too_precise)
    out = frame.select(value.alias("value"), reason.alias("reason"))
    return list(zip(out["value"].to_list(), out["reason"].to_list(), strict=True))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Plain decimal text is read exactly, in cents.
        ("12.34", (1234, None)),
        ("12.3", (1230, None)),
        ("12", (1200, None)),
        ("0.01", (1, None)),
        ("1.", (100, None)),
        (".5", (50, None)),
        ("+3", (300, None)),
        # Surrounding spaces are not part of the number.
        (" 2.50 ", (250, None)),
        # Trailing zeros beyond the cent are not extra precision.
        ("1.10000", (110, None)),
        # Negative money parses (range rules belong to each column, in staging).
        ("-1.50", (-150, None)),
        ("-0.01", (-1, None)),
        # Finer than a cent is rejected, never rounded (1.005 is not 1.00 or 1.01).
        ("1.005", (None, "sub_cent")),
        ("0.001", (None, "sub_cent")),
        ("-2.999", (None, "sub_cent")),
        # Not a plain decimal number.
        ("abc", (None, "invalid_value")),
        ("1,000.00", (None, "invalid_value")),
        ("$5", (None, "invalid_value")),
        ("1.2.3", (None, "invalid_value")),
        ("--1", (None, "invalid_value")),
        (".", (None, "invalid_value")),
        ("-", (None, "invalid_value")),
        ("", (None, "invalid_value")),
        ("1e3", (None, "invalid_value")),
        # More than 15 integer digits is beyond any real amount.
        ("1234567890123456", (None, "out_of_range")),
        # Null stays null with no reason (whether null is allowed is the column's rule).
        (None, (None, None)),
    ],
)
def test_parse_text(raw, expected):
    assert parse([raw], pl.String) == [expected]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # 1.1 is not exactly representable, but its shortest round-trip text is "1.1": 110 cents.
        (1.1, (110, None)),
        (19.99, (1999, None)),
        (0.07, (7, None)),
        (2.0, (200, None)),
        (-2.5, (-250, None)),
        (123456789.12, (12345678912, None)),
        # 0.1 + 0.2 is 0.30000000000000004: finer than a cent, so rejected.
        (0.1 + 0.2, (None, "sub_cent")),
        (1.005, (None, "sub_cent")),
        (0.00001, (None, "sub_cent")),
    ],
)
def test_parse_float(raw, expected):
    assert parse([raw], pl.Float64) == [expected]


def test_float_far_below_a_cent_is_rejected():
    # 1e-7 is written in exponent form; whatever the reason code, it must not become 0 cents.
    [(value, reason)] = parse([1e-7], pl.Float64)
    assert value is None and reason is not None


def test_parse_decimal_and_integer_columns():
    # A Parquet decimal keeps its scale: 1.100 is 110 cents; 1.005 is finer than a cent.
    assert parse([Decimal("1.100"), Decimal("1.005"), Decimal("-0.010")], pl.Decimal(10, 3)) == [
        (110, None),
        (None, "sub_cent"),
        (-1, None),
    ]
    assert parse([Decimal("19.99")], pl.Decimal(18, 2)) == [(1999, None)]
    # Integers are whole dollars.
    assert parse([5, -7], pl.Int64) == [(500, None), (-700, None)]


def test_other_scales_and_reason_codes():
    # Rates are millionths with the caller's reason code: 8 % = 0.08 = 80 000 ppm.
    assert parse(["0.08", "0.0000001"], pl.String, scale=6, too_precise="too_precise") == [
        (80_000, None),
        (None, "too_precise"),
    ]
    # Scale 0 (counts): "3.0" is 3, "3.5" has a fraction.
    assert parse(["3", "3.0", "3.5"], pl.String, scale=0, too_precise="invalid_value") == [
        (3, None),
        (3, None),
        (None, "invalid_value"),
    ]


@PROPERTY
@given(cents=st.integers(-(10**13), 10**13))
def test_every_two_place_amount_reads_back_exactly_in_every_form(cents):
    text = f"{'-' if cents < 0 else ''}{abs(cents) // 100}.{abs(cents) % 100:02d}"
    assert parse([text], pl.String) == [(cents, None)]
    assert parse([Decimal(text)], pl.Decimal(18, 2)) == [(cents, None)]
    # float(text) is the float whose shortest round-trip text is `text` (≤ 15 significant digits).
    assert parse([float(text)], pl.Float64) == [(cents, None)]


@PROPERTY
@given(mills=st.integers(-(10**9), 10**9).filter(lambda m: m % 10 != 0))
def test_a_third_decimal_place_is_always_rejected(mills):
    text = f"{'-' if mills < 0 else ''}{abs(mills) // 1000}.{abs(mills) % 1000:03d}"
    assert parse([text], pl.String) == [(None, "sub_cent")]


def half_up(value: int, factor: int, denominator: int) -> int:
    """round(value * factor / denominator), ties away from zero, from the exact fraction."""
    exact = Fraction(value * factor, denominator)
    magnitude = int(abs(exact) + Fraction(1, 2))  # floor(|x| + 1/2)
    return -magnitude if exact < 0 else magnitude


@pytest.mark.parametrize(
    ("value", "factor", "denominator", "expected"),
    [
        # Exactly half goes away from zero, in both directions (never to even).
        (5, 1, 10, 1),  # 0.5 → 1
        (-5, 1, 10, -1),  # -0.5 → -1
        (15, 1, 10, 2),  # 1.5 → 2
        (25, 1, 10, 3),  # 2.5 → 3 (banker's rounding would give 2)
        (-25, 1, 10, -3),  # -2.5 → -3
        # Below half goes toward zero, above half away from it.
        (14, 1, 10, 1),
        (-14, 1, 10, -1),
        (4, 1, 10, 0),
        (-4, 1, 10, 0),
        (2, 1, 3, 1),  # 0.667 → 1
        (-2, 1, 3, -1),
        (1, 1, 3, 0),
        # A percent: 15 % (1500 hundredths) of $9.99 = 149.85 cents → 150.
        (999, 1500, 10_000, 150),
        # 25 % of $10.10 = 252.5 cents → 253.
        (1010, 2500, 10_000, 253),
        # A rate: 8 % (80 000 ppm) of $12.34 = 98.72 cents → 99.
        (1234, 80_000, 1_000_000, 99),
        # The product is exact beyond Int64: (10^14 + 1) * 500 000 > 2^63; half of 10^14 + 1
        # is 5*10^13 + 0.5 → 5*10^13 + 1 (and its mirror).
        (10**14 + 1, 500_000, 1_000_000, 5 * 10**13 + 1),
        (-(10**14 + 1), 500_000, 1_000_000, -(5 * 10**13 + 1)),
        (0, 123, 7, 0),
    ],
)
def test_mul_div_half_up_truth_table(value, factor, denominator, expected):
    assert expected == half_up(value, factor, denominator)  # the table itself follows the rule
    assert pl.select(mul_div_half_up(value, factor, denominator)).item() == expected
    frame = pl.DataFrame({"v": [value], "f": [factor], "d": [denominator]})
    assert frame.select(mul_div_half_up(pl.col("v"), pl.col("f"), pl.col("d"))).item() == expected


@PROPERTY
@given(value=st.integers(-(10**12), 10**12), factor=st.integers(-(10**6), 10**6), denominator=st.integers(1, 10**6))
def test_mul_div_half_up_is_exact_half_away_from_zero(value, factor, denominator):
    frame = pl.DataFrame({"v": [value], "f": [factor], "d": [denominator]})
    got = frame.select(mul_div_half_up(pl.col("v"), pl.col("f"), pl.col("d"))).item()
    assert got == half_up(value, factor, denominator)


def test_cents_become_decimal_18_2_only_at_the_edge():
    frame = pl.DataFrame({"order_id": ["O1", "O2"], "amount_cents": [123456, -1], "quantity": [2, 1]})
    out = decimalise(frame)
    # `_cents` columns lose the suffix and become Decimal(18,2); other columns are untouched.
    assert set(out.columns) == {"order_id", "quantity", "amount"}
    assert out.schema["amount"] == pl.Decimal(18, 2)
    assert out["amount"].to_list() == [Decimal("1234.56"), Decimal("-0.01")]
    assert pl.select(cents_to_decimal(pl.lit(5))).item() == Decimal("0.05")


@pytest.mark.parametrize(
    ("amount", "symbol", "cents", "expected"),
    [
        (Decimal("1234.56"), "", False, "1,234.56"),
        (Decimal("-0.01"), "", False, "-0.01"),
        (Decimal("0"), "", False, "0.00"),
        (None, "", False, ""),
        (123456, "$", True, "$1,234.56"),
        (-123456789, "$", True, "-$1,234,567.89"),  # the sign goes before the symbol
        (5, "$", True, "$0.05"),
    ],
)
def test_reports_print_money_one_way(amount, symbol, cents, expected):
    assert money_text(amount, symbol, cents=cents) == expected
