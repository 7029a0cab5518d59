"""Shared test helpers: inline tables and raw input builders with sensible defaults.

Tests state only the columns that matter for their case; everything else takes the default
below. Raw values are strings, as a CSV-ish export would give them; staging casts them.
"""

import os
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

# Every subprocess of the suite (the CLI, a Prefect server, `settle serve` and its flow runs, Dask
# workers) imports Prefect afresh. Where the machine turns bytecode off (PYTHONDONTWRITEBYTECODE)
# that is seconds of compiling per process: let this session and its subprocesses share compiled
# bytecode, outside the source tree. Speed only; no behaviour depends on it.
_PYCACHE = Path(__file__).resolve().parents[1] / ".pytest_cache" / "pycache"
try:
    _PYCACHE.mkdir(parents=True, exist_ok=True)
except OSError:
    _PYCACHE = Path(tempfile.mkdtemp(prefix="settle-pycache-"))
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
os.environ["PYTHONPYCACHEPREFIX"] = str(_PYCACHE)
sys.dont_write_bytecode = False
sys.pycache_prefix = str(_PYCACHE)

import polars as pl  # noqa: E402 - after the bytecode settings, so its modules are cached too
import pytest  # noqa: E402

from schemas.inputs import INPUT_TABLES, SELLER_TYPES  # noqa: E402
from transforms.pipeline import Results, compute  # noqa: E402

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)

DEFAULTS: dict[str, dict[str, object]] = {
    "orders": {
        "shop_id": "S1",
        "created_at": "2025-06-01T12:00:00Z",
        "currency": "USD",
        "channel": "shop",
        "buyer_is_new": "false",
        "shipping_fee": "0",
        "actual_shipping_fee": "0",
        "sales_tax": "0",
        "seller_coupon_id": None,
        "platform_coupon_id": None,
        "delivered_at": None,
        "affiliate_commission_rate": None,
    },
    "order_lines": {"product_name": "Product", "sku_name": "Default", "quantity": "1"},
    "promotions": {
        "tier": "1",
        "starts_at": "2025-01-01T00:00:00Z",
        "ends_at": "2026-01-01T00:00:00Z",
        "discount_value": None,
        "min_spend": None,
        "min_quantity": None,
        "max_discount": None,
        "condition": "none",
        "campaign_id": None,
    },
    "promotion_products": {},
    "opt_out_events": {},
    "refunds": {"refund_shipping": "false"},
    "fee_schedule": {},
}


def table(text: str) -> pl.DataFrame:
    """A frame from a pipe table; `null` or an empty cell is None, every column is a string."""
    rows = [
        [cell.strip() for cell in line.strip().strip("|").split("|")]
        for line in text.strip().splitlines()
        if line.strip() and not set(line.strip()) <= set("|-: ")
    ]
    header, body = rows[0], rows[1:]
    data = {name: [None if r[i] in ("", "null") else r[i] for r in body] for i, name in enumerate(header)}
    return pl.DataFrame(data, schema={name: pl.String for name in header})


def raw(name: str, rows: list[dict] | str) -> pl.DataFrame:
    """A raw input table with the contract's columns, defaults filled in for what a row omits."""
    frame = (
        table(rows)
        if isinstance(rows, str)
        else pl.DataFrame(rows, schema={k: pl.String for r in rows for k in r} or None)
    )
    columns = [c.name for c in INPUT_TABLES[name]]
    defaults = dict(DEFAULTS[name])
    if name == "promotions" and "shop_id" not in frame.columns:
        frame = frame.with_columns(
            pl.when(pl.col("promotion_type").is_in(list(SELLER_TYPES)))
            .then(pl.lit("S1"))
            .otherwise(None)
            .alias("shop_id")
        )
    frame = frame.with_columns(pl.lit(v, pl.String).alias(k) for k, v in defaults.items() if k not in frame.columns)
    return frame.select([c for c in columns if c in frame.columns]).cast(pl.String)


def inputs(**tables: list[dict] | str | pl.DataFrame) -> dict[str, pl.DataFrame]:
    return {name: value if isinstance(value, pl.DataFrame) else raw(name, value) for name, value in tables.items()}


def run(as_of: datetime = AS_OF, **tables: list[dict] | str | pl.DataFrame) -> Results:
    """Stage and price the given raw tables (orders and order_lines required)."""
    return compute(inputs(**tables), as_of)


def cents(frame: pl.DataFrame, column: str = "amount_cents") -> list[int]:
    return frame[column].to_list()


@pytest.fixture
def as_of() -> datetime:
    return AS_OF


def duckdb_file(path, sql: str) -> None:
    """A small DuckDB database file made by `sql` (for tests of publishing and querying)."""
    import duckdb

    with duckdb.connect(str(path)) as con:
        con.execute(sql)


@pytest.fixture(scope="session")
def prefect_api():
    """A Prefect server for the command-line runs whose subject is not Prefect's temporary server:
    given as `PREFECT_API_URL`, each such run skips starting its own (about 5 s of the suite's time
    a run). The runs that test the temporary server (signals, `kill -9`) start theirs."""
    import socket

    from prefect.server.api.server import SubprocessASGIServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = SubprocessASGIServer(port=port)
    server.start(timeout=180)
    yield {**os.environ, "PREFECT_API_URL": server.api_url}
    server.stop()


@pytest.fixture(scope="session")
def prefect_server():
    """Prefect's test harness (a temporary server and database) for the flows run in-process: one
    per test process, shared by every module that runs flows (each start costs seconds). A module
    that needs a real server of its own (tests/test_deployment.py) defines its own fixture."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
