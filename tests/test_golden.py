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
