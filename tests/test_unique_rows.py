"""The contracts' key check (`schemas.checks.unique_rows`): the same verdict on every row as
hashing every key, whether the rows come sorted (its shortcut) or not."""

import pandera.polars as pa
import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from schemas.checks import run_values, unique_rows

_value = st.one_of(st.none(), st.sampled_from(["a", "b", "c"]))
_rows = st.lists(st.tuples(_value, _value), max_size=8)


def _verdict(frame: pl.DataFrame, keys: list[str], nulls_last: bool) -> list[bool]:
    return unique_rows(pa.PolarsData(frame.lazy()), keys, nulls_last).collect().to_series().to_list()


@settings(max_examples=300, deadline=None)
@given(
    rows=_rows, nulls_last=st.booleans(), order=st.sampled_from(["given", "sorted", "sorted_other_nulls", "reversed"])
)
def test_same_verdict_as_hashing_every_key(rows, nulls_last, order):
    frame = pl.DataFrame(rows, schema={"k1": pl.String, "k2": pl.String}, orient="row")
    if order != "given":
        frame = frame.sort(
            "k1", "k2", nulls_last=nulls_last if order == "sorted" else not nulls_last, descending=order == "reversed"
        )
    expected = (~pl.struct("k1", "k2").is_duplicated()).alias("x")
    assert _verdict(frame, ["k1", "k2"], nulls_last) == frame.select(expected).to_series().to_list()
    assert _verdict(frame, ["k1"], nulls_last) == frame.select(~pl.col("k1").is_duplicated()).to_series().to_list()


@pytest.mark.parametrize("nulls_last", [False, True])
def test_sorted_repeats_are_caught(nulls_last):
    """Sorted input with a repeated key (nulls included) must not pass by the shortcut."""
    frame = pl.DataFrame({"k1": ["a", "a", "b", None, None], "k2": ["x", "y", None, "z", "z"]})
    frame = frame.sort("k1", "k2", nulls_last=nulls_last)
    assert _verdict(frame, ["k1", "k2"], nulls_last).count(False) == 2


@settings(max_examples=300, deadline=None)
@given(values=st.lists(_value, max_size=10), order=st.sampled_from(["given", "sorted", "sorted_nulls_last"]))
def test_run_values_are_the_distinct_values_of_a_sorted_column_and_none_otherwise(values, order):
    """`run_values` reads a sorted column's distinct values from its runs (staging's membership
    and the partitions' owner shortcuts); a column out of order gets None, never a wrong answer."""
    frame = pl.DataFrame({"id": values}, schema={"id": pl.String})
    if order != "given":
        frame = frame.sort("id", nulls_last=order == "sorted_nulls_last")
    runs = run_values(frame, "id")
    in_order = frame["id"].to_list() == frame.sort("id")["id"].to_list()  # nulls first
    if in_order:
        assert runs is not None and runs.to_list() == frame["id"].unique(maintain_order=True).to_list()
    else:
        assert runs is None
