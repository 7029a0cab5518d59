"""The fuzz suite (tests/fuzzing.py): CI runs 300 cases, the slow run 10,000 (docs/reliability.md)."""

from collections import Counter

import polars as pl
import pytest

from tests import fuzzing

BLOCK = 50


@pytest.mark.parametrize("block", range(6))
def test_generated_bad_inputs_lose_no_row_let_no_bad_row_through_and_crash_nothing(block):
    results = [fuzzing.check(seed, compute_every=5) for seed in range(block * BLOCK, (block + 1) * BLOCK)]
    assert [r for r in results if r["outcome"] not in ("ok", "stopped")] == []


def test_the_cases_hold_what_they_claim_to():
    """Every mutation is applied across the first 300 cases, most cases plant rows that must be
    rejected, some stop the run, and a fifth are priced and validated."""
    cases = [fuzzing.make_case(seed) for seed in range(6 * BLOCK)]
    applied = Counter(mutation.__name__ for mutation in fuzzing.MUTATIONS for case in cases if _applied(mutation, case))
    assert set(applied) == {m.__name__ for m in fuzzing.MUTATIONS}
    assert sum(1 for case in cases if case.must_reject) > 100
    assert sum(1 for case in cases if case.must_stop) > 10


def _applied(mutation, case) -> bool:
    words = {
        "_null_cell": "null ", "_text_in_number": "text ", "_beyond_bound": "beyond bound", "_at_bound": "boundary value",
        "_float_money": "float ", "_naive_timestamp": "naive ", "_hostile_id": "hostile text", "_wrong_type": " column ",
        "_duplicate": "duplicate row", "_empty_table": "empty ", "_drop_column": "no column", "_shuffle": "rows shuffled",
        "_extra_columns": "unknown columns",
    }  # fmt: skip
    return any(said.startswith(words[mutation.__name__]) or words[mutation.__name__] in said for said in case.mutations)


def _seed_with(words: str) -> int:
    return next(seed for seed in range(1000) if any(words in said for said in fuzzing.make_case(seed).mutations))


@pytest.mark.parametrize(
    ("broken", "outcome"),
    [
        (lambda staged: staged.rejected_rows.head(0), "lost"),  # forgets its rejections
        (lambda staged: staged.rejected_rows.with_columns(pl.lit("because").alias("reason")), "unknown reason"),
    ],
)
def test_the_checks_find_a_staging_that_loses_rows_or_invents_reasons(monkeypatch, broken, outcome):
    """The suite can fail: a staging that drops its rejected rows or gives an undocumented reason is caught."""
    real = fuzzing.stage

    def stage(raw):
        staged = real(raw)
        staged.rejected_rows = broken(staged)
        return staged

    monkeypatch.setattr(fuzzing, "stage", stage)
    assert fuzzing.check(_seed_with("text "))["outcome"] == outcome


def test_the_checks_find_a_bad_row_that_was_let_through(monkeypatch):
    """A staging that accepts a row a mutation made invalid (and counts it as staged) is a silent accept."""
    real = fuzzing.stage
    seed = _seed_with("text ")

    def stage(raw):
        staged = real(raw)
        planted = fuzzing.make_case(seed).must_reject
        let_through = pl.Series(
            [(t, r) in planted for t, r in staged.rejected_rows.select("table", "row_number").rows()]
        )
        for table in {t for t, _ in planted}:
            passed = staged.rejected_rows.filter(let_through & (pl.col("table") == table)).height
            staged.tables[table] = pl.concat([staged.tables[table], staged.tables[table].head(1).clear(passed)])
        staged.rejected_rows = staged.rejected_rows.filter(~let_through)
        return staged

    monkeypatch.setattr(fuzzing, "stage", stage)
    assert fuzzing.check(seed)["outcome"] == "silent accept"


@pytest.mark.slow
def test_ten_thousand_cases():
    """The slow run whose figures docs/reliability.md records."""
    summary = fuzzing.run(10_000, processes=2, compute_every=5)
    assert summary["defects"] == []
