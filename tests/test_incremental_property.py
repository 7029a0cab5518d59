"""A nightly run that prices only what changed (transforms/incremental.py) publishes what a full run over
the same inputs publishes (issue #22): whatever sequence of nights follows the history (new orders of the
day, corrections of rows weeks old, late opt-out events, promotions edited after the fact, a night
missed), after every night both leave the same analysts' database and the same published files, byte
for byte, and the nightly run prices only what its rule names when nothing every order shares changed.
"""

import json
import shutil
import tempfile
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, Phase, event, given, settings
from hypothesis import strategies as st

from benchmarks.same_outputs import RUN_SPECIFIC
from flows.settle import settle_flow
from ingest.input_tables import read_inputs
from schemas.inputs import PLATFORM_TYPES
from tests.test_incremental import SAMPLES, add_opt_out_event, assert_same, database, inputs, night, rewrite
from transforms.staging import stage

HISTORY = 20  # the first run, as of night(20), settles every statement date before 2026-10-20
# What a manifest may hold apart from what benchmarks/same_outputs.py ignores between two full runs
# (run ID, start, timings, parameters with the output directory, recovery notes): `repriced` (the
# nightly run's counts, null for --full) and `database_rows_inserted` (a nightly run replaces only
# the rows of the orders it priced). Both say how the run worked, not what it published.
HOW_THE_RUN_WORKED = (*RUN_SPECIFIC, "repriced", "database_rows_inserted")


# -------------------------------------------------------------------- what a night changes


@dataclass(frozen=True)
class Append:
    """A copy of an accepted order (its lines too) under a new ID, created the day before the night,
    delivered `delivered_after` minutes later (None: not yet)."""

    source: str
    minute_of_day: int
    delivered_after: int | None


@dataclass(frozen=True)
class Correct:
    """A past order corrected: one line's quantity or unit price (by `amount` units or cents), or its
    delivery (`amount` minutes after its creation)."""

    order_id: str
    column: str  # quantity, unit_price, delivered_at
    line: int
    amount: int


@dataclass(frozen=True)
class OptOut:
    """A late opt-out (or opt-in) event: recorded now, dated `days_back` days before the night."""

    shop_id: str
    promotion_type: str
    days_back: int
    participating: bool


@dataclass(frozen=True)
class EditPromotion:
    """A promotion edited after the fact: one tier's discount value (`amount` in hundredths) or the
    promotion's end (moved by `amount` hours, every tier)."""

    promotion_id: str
    tier: int
    column: str  # discount_value, ends_at
    amount: int


SHARED = (OptOut, EditPromotion)  # what every order's pricing shares


@dataclass(frozen=True)
class Night:
    day: int
    changes: tuple


@dataclass(frozen=True)
class Pools:
    sources: tuple[str, ...]  # accepted orders of the history
    past: tuple[str, ...]  # accepted orders created weeks before the first night
    promotions: tuple[tuple[str, int], ...]  # accepted promotion tiers live around the history's end


@cache
def pools() -> Pools:
    """What the changes draw from: rows of the samples the input contract accepts (staged once)."""
    tables = stage(read_inputs(SAMPLES)).tables
    orders = tables["orders"].filter(pl.col("created_at") <= night(HISTORY)).sort("order_id")
    past = orders.filter(
        pl.col("created_at").is_between(datetime(2026, 8, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC))
    )
    promotions = (
        tables["promotions"]
        .filter(
            (pl.col("ends_at") > datetime(2026, 9, 1, tzinfo=UTC))
            & (pl.col("starts_at") < night(HISTORY))
            & (pl.col("discount_kind") != "free_shipping")
        )
        .sort("promotion_id", "tier")
    )
    return Pools(
        sources=tuple(orders["order_id"]),
        past=tuple(past["order_id"]),
        promotions=tuple(promotions.select("promotion_id", "tier").iter_rows()),
    )


@st.composite
def sequences(draw) -> list[Night]:
    """One to three nights after the history, each the next day or the one after (a night missed),
    each with up to two changes; one night at least changes nothing every order shares."""
    p = pools()
    own = st.one_of(
        st.builds(Append, st.sampled_from(p.sources), st.integers(0, 1439), st.none() | st.integers(30, 3 * 1440)),
        st.builds(
            Correct,
            st.sampled_from(p.past),
            st.sampled_from(("quantity", "unit_price", "delivered_at")),
            st.integers(0, 9),
            st.integers(1, 14 * 24 * 60),
        ),
    )
    shared = st.one_of(
        st.builds(
            OptOut,
            st.sampled_from(("SHOP-A", "SHOP-B")),
            st.sampled_from(PLATFORM_TYPES),
            st.integers(2, 50),
            st.booleans(),
        ),
        st.builds(
            lambda tier, column, amount: EditPromotion(tier[0], tier[1], column, amount),
            st.sampled_from(p.promotions),
            st.sampled_from(("discount_value", "ends_at")),
            st.integers(1, 10_000),
        ),
    )
    count = draw(st.integers(1, 3))
    quiet = draw(st.integers(0, count - 1))
    day, nights = HISTORY, []
    for n in range(count):
        day += draw(st.sampled_from((1, 1, 2)))  # 2: the night before was missed
        kinds = own if n == quiet else st.one_of(own, shared)
        nights.append(Night(day, tuple(draw(st.lists(kinds, max_size=2)))))
    return nights


# -------------------------------------------------------------------- applying them to the input tables


def _at(index: int, value, otherwise: str) -> pl.Expr:
    return pl.when(pl.int_range(pl.len()) == index).then(value).otherwise(pl.col(otherwise)).alias(otherwise)


def _row(frame: pl.DataFrame, condition: pl.Expr, pick: int = 0) -> int:
    rows = frame.with_row_index("_i").filter(condition)["_i"]
    return int(rows[pick % rows.len()])


def apply(data: Path, change, day: int, serial: int) -> None:
    if isinstance(change, Append):
        new_id = f"O-N{day}-{serial}"
        created = datetime(2026, 10, day - 1, tzinfo=UTC) + timedelta(minutes=change.minute_of_day)
        delivered = None if change.delivered_after is None else created + timedelta(minutes=change.delivered_after)

        def copy_order(orders: pl.DataFrame) -> pl.DataFrame:
            copy = orders.filter(pl.col("order_id") == change.source).with_columns(
                pl.lit(new_id).alias("order_id"),
                pl.lit(created).cast(orders.schema["created_at"]).alias("created_at"),
                pl.lit(delivered).cast(orders.schema["delivered_at"]).alias("delivered_at"),
            )
            return pl.concat([orders, copy])

        rewrite(data, "orders", copy_order)
        rewrite(
            data,
            "order_lines",
            lambda lines: pl.concat(
                [
                    lines,
                    lines.filter(pl.col("order_id") == change.source).with_columns(pl.lit(new_id).alias("order_id")),
                ]
            ),
        )
    elif isinstance(change, Correct) and change.column == "delivered_at":

        def redeliver(orders: pl.DataFrame) -> pl.DataFrame:
            i = _row(orders, pl.col("order_id") == change.order_id)
            created, delivered = orders["created_at"][i], orders["delivered_at"][i]
            new = created + timedelta(minutes=change.amount)
            new = new + timedelta(hours=1) if new == delivered else new
            return orders.with_columns(_at(i, pl.lit(new).cast(orders.schema["delivered_at"]), "delivered_at"))

        rewrite(data, "orders", redeliver)
    elif isinstance(change, Correct):

        def correct_line(lines: pl.DataFrame) -> pl.DataFrame:
            i = _row(lines, pl.col("order_id") == change.order_id, change.line)
            if change.column == "quantity":  # 1 to 5 units, never the quantity it had
                current = lines["quantity"][i]
                new = (current + change.amount % 4) % 5 + 1
                return lines.with_columns(_at(i, pl.lit(new, lines.schema["quantity"]), "quantity"))
            cents = int(Decimal(str(lines["unit_price"][i])) * 100)  # a new price, within ±$20.00, above 0
            step = change.amount % 2000 + 1
            new = cents - step if cents - step > 0 and change.amount % 2 else cents + step
            price = pl.lit(f"{new // 100}.{new % 100:02d}").cast(lines.schema["unit_price"])
            return lines.with_columns(_at(i, price, "unit_price"))

        rewrite(data, "order_lines", correct_line)
    elif isinstance(change, OptOut):
        changed_at = datetime(2026, 10, day, tzinfo=UTC) - timedelta(days=change.days_back)
        add_opt_out_event(data, change.shop_id, change.promotion_type, changed_at, change.participating)
    elif change.column == "discount_value":

        def revalue(promotions: pl.DataFrame) -> pl.DataFrame:
            i = _row(promotions, (pl.col("promotion_id") == change.promotion_id) & (pl.col("tier") == change.tier))
            kind, current = promotions["discount_kind"][i], promotions["discount_value"][i]
            hundredths = {"percent_off": 100 * (change.amount % 90 + 1), "amount_off": 25 * (change.amount % 80 + 2)}
            new = Decimal(hundredths.get(kind, 100 * (change.amount % 60 + 1))) / 100  # fixed_price: $1 to $60
            new = new + 1 if current is not None and new == current else new
            value = pl.lit(new).cast(promotions.schema["discount_value"])
            return promotions.with_columns(_at(i, value, "discount_value"))

        rewrite(data, "promotions", revalue)
    else:

        def move_end(promotions: pl.DataFrame) -> pl.DataFrame:  # every tier: they share their dates
            mine = pl.col("promotion_id") == change.promotion_id
            i = _row(promotions, mine & (pl.col("tier") == change.tier))
            starts, ends = promotions["starts_at"][i], promotions["ends_at"][i]
            hours = (change.amount % (14 * 24) + 1) * (-1 if change.amount % 2 else 1)
            new = ends + timedelta(hours=hours)
            new = ends + timedelta(hours=abs(hours)) if new <= starts else new
            end = pl.lit(new).cast(promotions.schema["ends_at"])
            return promotions.with_columns(pl.when(mine).then(end).otherwise(pl.col("ends_at")).alias("ends_at"))

        rewrite(data, "promotions", move_end)


def own_rows(data: Path, order_ids: set[str]) -> dict[str, tuple]:
    """Each order's row and lines in the input, to tell which corrections changed an order."""
    frames = [pl.read_parquet(data / f"{name}.parquet") for name in ("orders", "order_lines")]
    return {
        order_id: tuple(tuple(f.filter(pl.col("order_id") == order_id).rows()) for f in frames)
        for order_id in order_ids
    }


# -------------------------------------------------------------------- what the two runs published


def published(out: Path) -> dict[str, Path]:
    current = (out / "current").resolve()
    return {str(p.relative_to(current)): p for p in sorted(current.rglob("*")) if p.is_file()}


def manifest(out: Path) -> dict:
    return json.loads((out / "current" / "manifest.json").read_text())


def differing_files(incremental: Path, full: Path) -> list[str]:
    """Published files that differ between the runs, byte for byte (the manifest aside: it names the run)."""
    a, b = published(incremental), published(full)
    same_names = sorted(set(a) & set(b))
    return sorted(set(a) ^ set(b)) + [
        name for name in same_names if name != "manifest.json" and a[name].read_bytes() != b[name].read_bytes()
    ]


def differing_manifest(incremental: Path, full: Path) -> list[str]:
    """What the manifests say differently of the inputs and outputs (not `HOW_THE_RUN_WORKED`)."""
    a, b = manifest(incremental), manifest(full)
    differ = []
    for key in sorted((a.keys() | b.keys()) - set(HOW_THE_RUN_WORKED)):
        x, y = a.get(key), b.get(key)
        if isinstance(x, dict) and isinstance(y, dict):  # name the entries: rows_out.discount_lines
            differ += [
                f"{key}.{k}: {x.get(k)} != {y.get(k)}" for k in sorted(x.keys() | y.keys()) if x.get(k) != y.get(k)
            ]
        elif x != y:
            differ.append(key)
    return differ


# -------------------------------------------------------------------- the property


@pytest.fixture(scope="module")
def history(prefect_server, tmp_path_factory) -> Path:
    """The output of the first run (every statement date before night 20), settled once for the module."""
    root = tmp_path_factory.mktemp("history")
    out = root / "out"
    settle_flow(input_dir=str(inputs(root / "in")), out_dir=str(out), as_of=night(HISTORY), xlsx=False)
    return out


# Each example is seconds of runs: no shrinking (it takes minutes); a failing sequence is short enough to read.
@settings(
    max_examples=3,
    deadline=None,
    phases=(Phase.explicit, Phase.reuse, Phase.generate),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sequences())
def test_every_night_the_incremental_run_publishes_what_a_full_run_publishes(history, tmp_path, drawn):
    example = Path(tempfile.mkdtemp(dir=tmp_path))
    data = inputs(example / "in")
    fast, full = example / "incremental", example / "full"
    for out in (fast, full):
        shutil.copytree(history, out, symlinks=True)

    quiet_nights, last = 0, HISTORY
    for each in drawn:
        corrected = {c.order_id for c in each.changes if isinstance(c, Correct)}
        before = own_rows(data, corrected)
        for serial, change in enumerate(each.changes):
            event(type(change).__name__)  # what the examples covered: --hypothesis-show-statistics
            apply(data, change, each.day, serial)
        really_corrected = sum(before[o] != after for o, after in own_rows(data, corrected).items())

        summary = settle_flow(input_dir=str(data), out_dir=str(fast), as_of=night(each.day), days_back=1, xlsx=False)
        settle_flow(input_dir=str(data), out_dir=str(full), as_of=night(each.day), days_back=1, xlsx=False, full=True)

        assert_same(fast, full)
        assert differing_files(fast, full) == [], f"night {each.day}: {each.changes}"
        assert differing_manifest(fast, full) == [], f"night {each.day}: {each.changes}"
        missed = [date(2026, 10, d - 1).isoformat() for d in range(last + 1, each.day)]  # nights missed
        assert summary["caught_up"] == missed
        assert manifest(full)["repriced"] is None  # --full priced every order

        repriced = manifest(fast)["repriced"]
        if any(isinstance(c, SHARED) for c in each.changes):  # what every order shares changed
            assert repriced["by_reason"] == {"rules": repriced["orders_staged"]}
        else:
            quiet_nights += 1
            assert "rules" not in repriced["by_reason"]
            assert repriced["orders_priced"] < repriced["orders_staged"]
            assert repriced["by_reason"].get("changed", 0) == really_corrected
            assert repriced["by_reason"].get("new", 0) >= sum(isinstance(c, Append) for c in each.changes)
        last = each.day
    assert quiet_nights >= 1
    assert database(fast)["order_state"].height == repriced["orders_staged"]
