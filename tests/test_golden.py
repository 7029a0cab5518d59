"""Golden files: the sample run's statements and order details, pinned.

A normal test run only compares. Regenerate on purpose with
`UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py` and commit the files with the change
that alters them (review the diff: it is the change in what sellers would be paid).
"""

import os
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from ingest.input_tables import read_inputs
from schemas.layout import ORDER_DETAILS_LABELS, STATEMENTS_LABELS, snake
from transforms.pipeline import compute

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = Path(__file__).resolve().parent / "golden"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def published():
    return compute(read_inputs(ROOT / "data_samples"), AS_OF).published()


def _csv(frame, labels) -> str:
    return frame.select("shop_id", *[pl.col(snake(label)).alias(label) for label in labels]).write_csv()


@pytest.mark.parametrize(
    ("name", "table", "labels"),
    [("statements.csv", "statements", STATEMENTS_LABELS), ("order_details.csv", "order_details", ORDER_DETAILS_LABELS)],
)
def test_sample_run_matches_golden(published, name, table, labels):
    text = _csv(published[table], labels)
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it on purpose"
    assert text == path.read_text(), f"{name} differs from the golden file; regenerate on purpose if intended"


@pytest.fixture(scope="module")
def journals():
    """The sample run's journals, computed and as reported, through the export layouts."""
    from ingest.accounts import read_accounts
    from ingest.reported import read_reported
    from transforms.journal import computed_journals, reported_journals, statement_sums

    details, statements, _ = read_reported(ROOT / "data_samples")
    results = compute(
        read_inputs(ROOT / "data_samples"), AS_OF, reported_details=details, reported_statements=statements
    )
    published = results.published()
    sums = statement_sums(published["order_details"].lazy())
    mapping = read_accounts()
    return {
        "computed": computed_journals(sums, mapping),
        "reported": reported_journals(sums, published["recon_statements"], details, mapping),
    }


@pytest.mark.parametrize("source", ["computed", "reported"])
@pytest.mark.parametrize("layout", ["quickbooks", "xero"])
def test_sample_journal_exports_match_golden(journals, source, layout):
    from publish import journals as journal_exports

    lines = journals[source]
    text = journal_exports.neutralise_formulas(getattr(journal_exports, layout)(lines)).write_csv()
    path = GOLDEN / f"journals-{source}-{layout}.csv"
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert path.exists(), f"{path} is missing: run with UPDATE_GOLDEN=1 to create it on purpose"
    assert text == path.read_text(), f"{path.name} differs from the golden file; regenerate on purpose if intended"
