"""The contracts' key check (`schemas.checks.unique_rows`): the same verdict on every row as
hashing every key, whether the rows come sorted (its shortcut) or not."""

import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.checks import unique_rows

_value = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
_rows = st.lists(st.tuples(_value, _value), max_size=8)


def _verdict(frame: pl.DataFrame, keys: list[str], nulls_last: bool) -> list[bool]:
    return unique_rows(pa.PolarsData(frame.lazy()), keys, nulls_last).collect().to_series().to_list()


@settings(max_examples=300, deadline=None)
@given(rows=_rows, nulls_last=st.booleans(), order=st.sampled_from(["given", "sorted", "sorted_other_nulls", "reversed"]))
def test_same_verdict_as_hashing_every_key(rows, nulls_last, order):
    frame = pl.DataFrame(rows, schema={"k1": pl.String, "k2": pl.String}, orient="row")
    if order != "given":
        frame = frame.sort("k1", "k2", nulls_last=nulls_last if order == "sorted" else not nulls_last, descending=order == "reversed")
    expected = (~pl.struct("k1", "k2").is_duplicated()).alias("x")
    assert _verdict(frame, ["k1", "k2"], nulls_last) == frame.select(expected).to_series().to_list()
    assert _verdict(frame, ["k1"], nulls_last) == frame.select(~pl.col("k1").is_duplicated()).to_series().to_list()


@pytest.mark.parametrize("nulls_last", [False, True])
def test_sorted_repeats_are_caught(nulls_last):
    """Sorted input with a repeated key (nulls included) must not pass by the shortcut."""
    frame = pl.DataFrame({"k1": ["a", "a", "b", None, None], "k2": ["x", "y", None, "z", "z"]})
    frame = frame.sort("k1", "k2", nulls_last=nulls_last)
    assert _verdict(frame, ["k1", "k2"], nulls_last).count(False) == 2
