"""Nightly runs that price only what changed or what their statements need (transforms/incremental.py):
the database they leave is the one full nightly runs leave, night after night, whatever changed."""

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

import flows.steps
from flows.settle import settle_flow
from flows.steps import FROM_DATABASE, RunFailed
from synthetic.generate import generate_inputs
from transforms.incremental import SEED, order_hashes, shared_hash, to_price
from transforms.staging import stage

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data_samples"


def database(out: Path) -> dict[str, pl.DataFrame]:
    """Every table of the analysts' database but the log of runs, rows in a canonical order."""
    with duckdb.connect(str(out / "settlement.duckdb"), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        names = [
            n
            for (n,) in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            ).fetchall()
        ]
        return {
            name: con.sql(f'SELECT * FROM "{name}" ORDER BY ALL').pl()
            for name in sorted(names)
            if name != "settle_runs"
        }


def assert_same(incremental: Path, full: Path) -> None:
    a, b = database(incremental), database(full)
    assert a.keys() == b.keys()
    for name in b:
        assert a[name].equals(b[name]), name
    # The published tables without a statement date hold every order, whichever the run priced.
    for name in FROM_DATABASE:
        assert (incremental / "current" / name / "data.parquet").read_bytes() == (
            full / "current" / name / "data.parquet"
        ).read_bytes(), name


def inputs(directory: Path) -> Path:
    """A copy of the samples' input tables (no reported exports: they do not change between nights)."""
    directory.mkdir()
    for path in SAMPLES.glob("*.parquet"):
        (directory / path.name).write_bytes(path.read_bytes())
    return directory


def rewrite(directory: Path, table: str, change) -> None:
    path = directory / f"{table}.parquet"
    frame = change(pl.read_parquet(path))
    frame.write_parquet(path)


def add_opt_out_event(data: Path, shop_id: str, promotion_type: str, at: datetime, participating: bool) -> None:
    """A shop's opt-out (or opt-in) event appended to the input, dated `at`."""
    row = {
        "shop_id": [shop_id],
        "promotion_type": [promotion_type],
        "changed_at": [at],
        "participating": [participating],
    }
    rewrite(data, "opt_out_events", lambda events: pl.concat([events, pl.DataFrame(row, schema=events.schema)]))


def first_new_orders(data: Path, after: datetime, upto: datetime) -> int:
    """The sample orders created in (after, upto]: new to a run as of `upto` that followed one as of `after`."""
    created = pl.read_parquet(data / "orders.parquet").filter(pl.col("order_id") != "O-NEW-1")["created_at"]
    return int(((created > after) & (created <= upto)).sum())


def night(day: int) -> datetime:
    return datetime(2026, 10, day, 2, 30, tzinfo=UTC)


def test_nightly_runs_price_what_changed_and_leave_the_database_of_full_runs(prefect_server, tmp_path):
    data = inputs(tmp_path / "in")
    fast, full = tmp_path / "incremental", tmp_path / "full"
    for out in (fast, full):  # the history, settled once
        settle_flow(input_dir=str(data), out_dir=str(out), as_of=night(20), xlsx=False)

    def both(day: int) -> dict:
        summary = settle_flow(input_dir=str(data), out_dir=str(fast), as_of=night(day), days_back=1, xlsx=False)
        everything = settle_flow(
            input_dir=str(data), out_dir=str(full), as_of=night(day), days_back=1, xlsx=False, full=True
        )
        assert_same(fast, full)
        assert summary["shops"] == everything["shops"]  # its discounts and unsettled orders: all of each shop's
        return summary

    def repriced(out: Path) -> dict:
        return json.loads((out / "current" / "manifest.json").read_text())["repriced"]

    # 1. Nothing changed but the day: only what the day's statement and the unsettled list need.
    both(21)
    first = repriced(fast)
    assert set(first["by_reason"]) <= {"window", "crossed", "new"}
    assert 0 < first["orders_priced"] < first["orders_staged"] / 3
    assert repriced(full) is None  # --full prices every order

    # 2. A new order appended, and a past order corrected (a settled order's quantity).
    def append(frame: pl.DataFrame) -> pl.DataFrame:
        copy = frame.filter(pl.col("order_id") == "O-0100").with_columns(
            pl.lit("O-NEW-1").alias("order_id"), pl.lit(datetime(2026, 10, 21, 9, tzinfo=UTC)).alias("created_at")
        )
        return pl.concat([frame, copy.with_columns(pl.lit(None, copy.schema["delivered_at"]).alias("delivered_at"))])

    rewrite(data, "orders", append)
    rewrite(
        data,
        "order_lines",
        lambda lines: pl.concat(
            [
                lines.with_columns(
                    pl.when(pl.col("order_id") == "O-0010").then(pl.col("quantity") + 1).otherwise(pl.col("quantity"))
                ),
                lines.filter(pl.col("order_id") == "O-0100").with_columns(pl.lit("O-NEW-1").alias("order_id")),
            ]
        ),
    )
    both(22)
    second = repriced(fast)["by_reason"]
    assert second["changed"] == 1  # O-0010; the new ones: O-NEW-1 and the orders of the day (after the last as_of)
    assert second["new"] == 1 + first_new_orders(data, night(21), night(22))

    # 3. A late opt-out event (dated weeks back) and 4. a promotion corrected after the fact: what
    # every order shares changed, so every order is priced again.
    add_opt_out_event(data, "SHOP-A", "product_incentive", datetime(2026, 9, 1, tzinfo=UTC), participating=False)
    both(23)
    assert set(repriced(fast)["by_reason"]) == {"rules"}
    rewrite(
        data,
        "promotions",
        lambda promotions: promotions.with_columns(
            pl.when(pl.col("promotion_id") == "PD-10")
            .then(pl.col("discount_value") + Decimal("1"))
            .otherwise(pl.col("discount_value"))
        ),
    )
    both(24)
    assert set(repriced(fast)["by_reason"]) == {"rules"}

    # 5. An order gone from the input leaves the database too; 6. two nights missed, then one.
    rewrite(data, "orders", lambda frame: frame.filter(pl.col("order_id") != "O-NEW-1"))
    rewrite(data, "order_lines", lambda frame: frame.filter(pl.col("order_id") != "O-NEW-1"))
    both(25)
    assert repriced(fast)["orders_removed"] == 1
    summary = both(28)
    assert summary["caught_up"] == ["2026-10-25", "2026-10-26"]


def test_a_new_version_of_the_rules_prices_every_order_again(prefect_server, tmp_path, monkeypatch):
    out = tmp_path / "out"
    settle_flow(input_dir=str(SAMPLES), out_dir=str(out), as_of=night(20), xlsx=False)
    monkeypatch.setattr(flows.steps, "code_version", lambda: "a new version of the rules")
    settle_flow(input_dir=str(SAMPLES), out_dir=str(out), as_of=night(21), days_back=1, xlsx=False)
    repriced = json.loads((out / "current" / "manifest.json").read_text())["repriced"]
    assert repriced["by_reason"] == {"rules": repriced["orders_staged"]}


# -------------------------------------------------------------------- the rule, table by table


def staged(**changes) -> dict[str, pl.DataFrame]:
    """Two delivered orders of shop S (one long settled) and an undelivered one."""
    t0 = datetime(2026, 9, 1, tzinfo=UTC)
    tables = {
        "orders": pl.DataFrame(
            {
                "order_id": ["old", "recent", "open"],
                "shop_id": ["S", "S", "S"],
                "created_at": [t0, t0 + timedelta(days=20), t0 + timedelta(days=25)],
                "delivered_at": [t0 + timedelta(days=2), t0 + timedelta(days=21), None],
            }
        ),
        "order_lines": pl.DataFrame(
            {"order_id": ["old", "recent", "open"], "sku_id": ["a", "a", "a"], "quantity": [1, 1, 1]}
        ),
        "refunds": pl.DataFrame(
            {"refund_id": ["r"], "order_id": ["old"], "refunded_at": [t0 + timedelta(days=3)]},
            schema_overrides={"refunded_at": pl.Datetime("us", "UTC")},
        ),
        **{
            name: pl.DataFrame({"x": [1]})
            for name in ("promotions", "promotion_products", "opt_out_events", "fee_schedule")
        },
    }
    return tables | changes


def priced(
    tables,
    state_tables,
    window_from=date(2026, 9, 28),
    reported=(),
    as_of=datetime(2026, 9, 30, 2, 30, tzinfo=UTC),
    last_as_of=datetime(2026, 9, 29, 2, 30, tzinfo=UTC),
) -> dict[str, str]:
    hashes = order_hashes(tables)
    shared = shared_hash(tables, 8, "v1")
    state = order_hashes(state_tables)
    shops = pl.DataFrame(
        {"shop_id": ["S"], "shared_hash": [shared_hash(state_tables, 8, "v1")], "last_as_of": [last_as_of]}
    )
    chosen = to_price(
        tables,
        hashes,
        state,
        shops,
        shared,
        window_from,
        8,
        pl.DataFrame({"order_id": list(reported)}, schema={"order_id": pl.String}),
        as_of,
    )
    return dict(chosen.iter_rows())


LATER = {"window_from": date(2026, 10, 5), "as_of": night(6), "last_as_of": night(5)}


def test_only_the_orders_the_window_needs_when_nothing_changed():
    # "recent" settles on 09-30 (delivered 09-22 + 8 days), by the run's as-of: in the window.
    # "open" is not delivered: its rows are the same at any instant before its delivery.
    assert priced(staged(), staged()) == {"recent": "window"}
    assert priced(staged(), staged(), **LATER) == {}
    assert priced(staged(), staged(), reported=["old"], **LATER) == {"old": "reported"}


def test_an_order_delivered_or_due_to_settle_since_the_last_run_is_priced_though_it_did_not_change():
    # Delivered at 10-05 12:00, between the last run (10-05 02:30) and this one (10-06 02:30):
    # awaiting delivery then, in its hold now.
    delivered = staged()["orders"].with_columns(
        pl.when(pl.col("order_id") == "open")
        .then(pl.lit(datetime(2026, 10, 5, 12, tzinfo=UTC)))
        .otherwise(pl.col("delivered_at"))
        .alias("delivered_at")
    )
    assert priced(staged(orders=delivered), staged(orders=delivered), **LATER) == {"open": "crossed"}
    # Due to settle at 09-30 00:00: in its hold for the last run (09-29 23:00), settled for this one,
    # whose window starts after that settlement's date.
    last = datetime(2026, 9, 29, 23, tzinfo=UTC)
    assert priced(staged(), staged(), window_from=date(2026, 10, 1), as_of=night(1), last_as_of=last) == {
        "recent": "crossed"
    }


def test_a_run_as_of_an_earlier_instant_than_the_last_prices_everything():
    assert set(priced(staged(), staged(), as_of=night(1), last_as_of=night(6)).values()) == {"earlier_as_of"}
    assert len(priced(staged(), staged(), as_of=night(1), last_as_of=night(6))) == 3


def test_a_changed_line_a_new_order_and_a_shared_change_are_priced_for_their_reason():
    before = staged()
    lines = before["order_lines"].with_columns(
        pl.when(pl.col("order_id") == "old").then(2).otherwise(pl.col("quantity")).alias("quantity")
    )
    assert priced(staged(order_lines=lines), before, **LATER)["old"] == "changed"
    reordered = staged(order_lines=before["order_lines"].reverse())  # the same rows in another order: no change
    assert priced(reordered, before, **LATER) == {}
    # A row twice is not the row once (the hash is of the multiset of rows), and nor is a value
    # moved from one row to another.
    twice = pl.concat([before["order_lines"], before["order_lines"].filter(pl.col("order_id") == "old")])
    assert priced(staged(order_lines=twice), before, **LATER) == {"old": "changed"}
    two_lines = pl.DataFrame({"order_id": ["old", "old"], "sku_id": ["a", "b"], "quantity": [1, 2]})
    swapped = two_lines.with_columns(pl.Series("quantity", [2, 1]))
    others = before["order_lines"].filter(pl.col("order_id") != "old")
    assert priced(
        staged(order_lines=pl.concat([others, swapped])), staged(order_lines=pl.concat([others, two_lines])), **LATER
    ) == {"old": "changed"}
    fewer = {
        k: (v.filter(pl.col("order_id") != "recent") if k in ("orders", "order_lines") else v)
        for k, v in before.items()
    }
    assert priced(before, fewer, **LATER)["recent"] == "new"
    edited = staged(promotions=pl.DataFrame({"x": [2]}))
    assert set(priced(edited, before).values()) == {"rules"}


def test_a_failed_nightly_run_leaves_the_state_and_the_next_one_prices_from_it(prefect_server, tmp_path, monkeypatch):
    data = inputs(tmp_path / "in")
    out = tmp_path / "out"
    settle_flow(input_dir=str(data), out_dir=str(out), as_of=night(20), xlsx=False)
    before = database(out)
    rewrite(
        data, "order_lines", lambda lines: lines.with_columns(pl.col("quantity") + (pl.col("order_id") == "O-0010"))
    )

    def failing(results, tables):
        raise RunFailed("a partition is wrong; nothing was published")

    monkeypatch.setattr(flows.steps, "validate", failing)
    with pytest.raises(RunFailed, match="partition is wrong"):
        settle_flow(input_dir=str(data), out_dir=str(out), as_of=night(21), days_back=1, xlsx=False)
    after = database(out)
    for name in ("order_state", "shop_state", "discount_lines", "orders"):
        assert after[name].equals(before[name]), name
    monkeypatch.undo()
    settle_flow(input_dir=str(data), out_dir=str(out), as_of=night(21), days_back=1, xlsx=False)
    assert json.loads((out / "current" / "manifest.json").read_text())["repriced"]["by_reason"]["changed"] == 1


def test_order_hashes_do_not_depend_on_the_rows_order_nor_on_the_lines_coming_sorted():
    """Lines sorted by order are summed run by run, others grouped by ID: the same hashes, which
    are those of one multiset of row hashes per order computed plainly."""
    tables = stage(generate_inputs(300, 4, n_shops=3)).tables
    lines = tables["order_lines"]
    assert lines.get_column("order_id").is_sorted()
    shuffled = {**tables, "order_lines": lines.sample(fraction=1.0, shuffle=True, seed=3)}
    unsorted_orders = {**tables, "orders": tables["orders"].reverse()}
    sums = []
    for name in ("orders", "order_lines", "refunds"):
        frame = tables[name]
        h = frame.drop("row_number").hash_rows(seed=SEED)
        sums.append(frame.select("order_id", h.alias("_h")))
    plain = (
        pl.concat(sums)
        .group_by("order_id")
        .agg((pl.col("_h") % 2**32).sum().alias("_low"), (pl.col("_h") // 2**32).sum().alias("_high"), pl.len())
        .select("order_id", pl.struct("_low", "_high", "len").hash(seed=SEED).alias("content_hash"))
        .sort("order_id")
    )
    for variant in (tables, shuffled, unsorted_orders):
        assert order_hashes(variant).select("order_id", "content_hash").sort("order_id").equals(plain)
