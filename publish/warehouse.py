"""The analysts' DuckDB database: every output table, plus views for the questions they ask.

The database accumulates runs. A run replaces exactly what it covers, in one transaction: for
its shops, the rows of its statement dates (every date when the run has no date window), and
the per-order and per-shop tables; so a re-run or a backfill never duplicates and never loses
a date. The live file is never written in place: the run copies it, applies the transaction to
the copy, checkpoints, and `publish.store.publish` renames the copy onto the live name (open readers
keep the version they opened). The run lock (`publish.store.run_lock`) keeps two runs from doing
this at once.
"""

import json
import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import polars as pl

from publish import parquet
from publish.store import failpoint
from schemas.layout import ORDER_DETAILS_CONSTANTS, snake
from schemas.outputs import replaced_per

# How each table is replaced: per (shop, statement date), per order of the run's shops, per
# shop, or whole (the rejected rows are about the input the run read, not about a shop).
REPLACED_PER_STATEMENT_DATE = replaced_per("statement_date")
REPLACED_PER_ORDER = replaced_per("order")
REPLACED_PER_SHOP = (*replaced_per("shop"), "orders")  # `orders`: the database's own table of order status
# The per-shop tables of one row per order: a run that priced only some orders replaces them per order.
ABOUT_ORDERS = ("orders", "unsettled_orders")
# The state a run leaves for the next (flows/steps.py `_state`): per shop, each order's content hash
# and the shop's shared hash; replaced per shop like the tables above.
STATE = ("order_state", "shop_state")
REPLACED_WHOLE = replaced_per("run")
RUNS_TABLE = "settle_runs"
# Columns every row holds the same value in (checked on every row by the output contract): the
# database computes them (virtual generated columns) rather than storing and loading millions of
# copies. Order details has 23 of its 60 columns so.
GENERATED = {"order_details": {snake(label): value for label, value in ORDER_DETAILS_CONSTANTS.items()}}


class WarehouseError(RuntimeError):
    """The database cannot take this run's rows (e.g. it was built by an older layout)."""


# Views an analyst would want first; plain SQL over the tables of the same database.
VIEWS = {
    "discounts_daily": """
        SELECT o.shop_id, o.created_date AS order_date, d.funded_by, d.promotion_type,
               count(DISTINCT d.order_id) AS orders, sum(d.amount)::DECIMAL(18,2) AS discount
        FROM discount_lines d JOIN orders o USING (order_id)
        GROUP BY ALL ORDER BY ALL""",
    "funding_by_statement": """
        SELECT shop_id, statement_date_utc, statement_id,
               (-sum(seller_discount) - sum(seller_discount_refund))::DECIMAL(18,2) AS seller_funded_discounts,
               (sum(platform_discounts) + sum(platform_discounts_refund))::DECIMAL(18,2) AS tiktok_funded_discounts,
               sum(tiktok_shop_shipping_incentive + tiktok_shop_shipping_incentive_refund)::DECIMAL(18,2) AS tiktok_shipping_incentive,
               sum(total_settlement_amount)::DECIMAL(18,2) AS total_settlement_amount
        FROM order_details GROUP BY ALL ORDER BY ALL""",
    "refunds_by_statement": """
        SELECT shop_id, statement_date_utc, statement_id, count(*) FILTER (WHERE refund_id IS NOT NULL) AS refund_rows,
               sum(gross_sales_refund)::DECIMAL(18,2) AS gross_sales_refund,
               sum(customer_refund)::DECIMAL(18,2) AS customer_refund,
               sum(refund_administration_fee)::DECIMAL(18,2) AS refund_administration_fee
        FROM order_details WHERE gross_sales_refund <> 0 GROUP BY ALL ORDER BY ALL""",
    "journal_by_month": """
        SELECT shop_id, substr(statement_date_utc, 1, 7) AS month, source, account_key, account_name, account_code,
               count(DISTINCT statement_date_utc) AS statements,
               sum(debit)::DECIMAL(18,2) AS debit, sum(credit)::DECIMAL(18,2) AS credit,
               (sum(credit) - sum(debit))::DECIMAL(18,2) AS net_credit
        FROM journal_lines GROUP BY ALL ORDER BY shop_id, month, min(line)""",
    "rejections_by_reason": """
        SELECT "table", reason, count(*) AS rows FROM rejected_rows GROUP BY ALL ORDER BY rows DESC""",
}


def _literal(value: str | int) -> str:
    """A constant of this code (never input) as SQL, where DDL takes no parameters."""
    return "'" + str(value).replace("'", "''") + "'" if isinstance(value, str) else str(value)


# Every file list is bound as a parameter, never formatted into the SQL.
SOURCE = "read_parquet($files, hive_partitioning = false)"


def _files(paths: list[Path]) -> dict[str, list[str]]:
    return {"files": [str(p.resolve()) for p in paths]}


def _create(con: duckdb.DuckDBPyConnection, name: str, paths: list[Path]) -> None:
    """The table, if new: the source's columns and types, its constant columns generated."""
    generated = GENERATED.get(name, {})
    columns = [
        f'"{column}" {kind}'
        + (
            f" GENERATED ALWAYS AS (CAST({_literal(generated[column])} AS {kind})) VIRTUAL"
            if column in generated
            else ""
        )
        for column, kind, *_ in con.execute(f"DESCRIBE SELECT * FROM {SOURCE}", _files(paths)).fetchall()
    ]
    con.execute(f'CREATE TABLE IF NOT EXISTS "{name}" ({", ".join(columns)})')


def _stored(con: duckdb.DuckDBPyConnection, name: str) -> str:
    """The table's stored (not generated) columns, quoted: those an insert gives values to. A
    database built before a column became generated still stores it, and is filled as before."""
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_name = ? AND is_generated = 'NEVER' ORDER BY ordinal_position",
        [name],
    ).fetchall()
    return ", ".join(f'"{column}"' for (column,) in rows)


def update(
    live: Path,
    target: Path,
    files: dict[str, list[Path]],
    shops: list[str],
    statement_from: date | None,
    statement_to: date | None,
    run: dict,
    removed: Path | None = None,
) -> dict[str, int]:
    """Write `target`: the live database (if any) with this run's rows replacing what it covers.

    `files` maps each table to the run's Parquet files; returns the rows inserted per table. With
    `removed` (a file of order IDs: a nightly run that priced only some orders), the per-order
    tables and `orders` replace the rows of the orders the run priced and of those `removed`
    names, not every order of its shops.
    """
    if live.exists():
        shutil.copyfile(live, target)
    con = duckdb.connect(str(target))
    inserted = {}
    try:
        con.execute("SET TimeZone = 'UTC'")
        # Tables are sets: rows are loaded in parallel, in no particular physical order (a
        # load that keeps the order runs on one thread); ask with ORDER BY. The Parquet and CSV
        # outputs keep their exact order.
        con.execute("SET preserve_insertion_order = false")
        con.execute("BEGIN TRANSACTION")
        for name, paths in files.items():
            _create(con, name, paths)
        window = {
            "shops": shops,
            "from": (statement_from or date.min).isoformat(),
            "to": (statement_to or date.max).isoformat(),
        }
        for name in (name for name in REPLACED_PER_STATEMENT_DATE if name in files):
            con.execute(
                f'DELETE FROM "{name}" WHERE list_contains($shops, shop_id) AND statement_date_utc BETWEEN $from AND $to',
                window,
            )
        # A run that priced only some orders replaces the rows of those (and of the removed) in
        # every table about orders; the orders it did not price keep theirs.
        per_order = [*REPLACED_PER_ORDER, *ABOUT_ORDERS] if removed is not None else REPLACED_PER_ORDER
        for name in (name for name in per_order if name in files):
            if removed is not None:
                con.execute(
                    f"""DELETE FROM "{name}" WHERE order_id IN (SELECT order_id FROM {SOURCE})
                        OR order_id IN (SELECT order_id FROM read_parquet($removed))""",
                    {**_files(files["orders"]), "removed": str(removed.resolve())},
                )
                continue
            con.execute(
                f"""DELETE FROM "{name}" WHERE order_id IN (SELECT order_id FROM orders WHERE list_contains($shops, shop_id))
                    OR order_id IN (SELECT order_id FROM {SOURCE})""",
                {"shops": shops, **_files(files["orders"])},
            )
        per_shop = (*REPLACED_PER_SHOP, *STATE)
        for name in (n for n in per_shop if n in files and not (removed is not None and n in ABOUT_ORDERS)):
            con.execute(f'DELETE FROM "{name}" WHERE list_contains($shops, shop_id)', {"shops": shops})
        for name in (name for name in REPLACED_WHOLE if name in files):
            con.execute(f'DELETE FROM "{name}"')
        for name, paths in files.items():
            inserted[name] = con.execute(
                f'INSERT INTO "{name}" BY NAME SELECT {_stored(con, name)} FROM {SOURCE}', _files(paths)
            ).fetchone()[0]
        con.execute(
            f"""CREATE TABLE IF NOT EXISTS {RUNS_TABLE} (run_id VARCHAR PRIMARY KEY, as_of TIMESTAMPTZ, shops VARCHAR[],
                statement_from DATE, statement_to DATE, published_at TIMESTAMPTZ, rows_inserted JSON)"""
        )
        con.execute(
            f"INSERT OR REPLACE INTO {RUNS_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
            [run["run_id"], run["as_of"], shops, statement_from, statement_to, datetime.now(UTC), json.dumps(inserted)],
        )
        for name, sql in VIEWS.items():
            con.execute(f'CREATE OR REPLACE VIEW "{name}" AS {sql}')
        failpoint("database-before-commit")
        con.execute("COMMIT")
        con.execute("CHECKPOINT")
        failpoint("database-after-commit")
    except duckdb.InterruptException:  # DuckDB takes Ctrl-C itself while a query runs: it is still Ctrl-C
        raise KeyboardInterrupt from None
    except duckdb.IOException as exc:  # a full disk, say: the live database is untouched
        raise WarehouseError(f"cannot write {target}: {str(exc).splitlines()[0]}") from exc
    except duckdb.Error as exc:
        raise WarehouseError(
            f"{live}: cannot apply this run ({str(exc).splitlines()[0]}); if the database was built by an older "
            f"version, move it away and run again for every shop and date to rebuild it"
        ) from exc
    finally:
        con.close()
    return inserted


def publish_tables(database: Path, tables: tuple[str, ...], shops: list[str], paths: dict[str, Path]) -> dict[str, int]:
    """Each table's rows of `shops` in `database`, in one canonical order (every column,
    ascending), as the Parquet file `paths[table]`; the rows written per table.

    These are the tables without a statement date (per order, per shop). Published from the
    database rather than from the partitions' results, they hold every order of the run's shops
    whether the run priced it or a nightly run kept its rows from the last, and the bytes do not
    depend on how the orders were cut into partitions: any run over the same inputs writes them
    the same. A table without a `shop_id` column takes its orders' shops from `orders`."""
    written = {}
    with duckdb.connect(str(database), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        for name in tables:
            columns = [c for (c,) in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_name = ? ORDER BY ordinal_position", [name]
            ).fetchall()]  # fmt: skip
            mine = (
                "list_contains($shops, shop_id)"
                if "shop_id" in columns
                else "order_id IN (SELECT order_id FROM orders WHERE list_contains($shops, shop_id))"
            )
            frame = con.sql(f'SELECT * FROM "{name}" WHERE {mine} ORDER BY ALL', params={"shops": shops}).pl()
            parquet.write_parquet(frame, paths[name])
            written[name] = frame.height
    return written


def order_totals(database: Path, shops: list[str]) -> pl.DataFrame:
    """Per shop of `shops` with orders in `database`, over all its orders: seller- and
    TikTok-funded discounts (cents) and the orders not settled (the run summary's columns about
    orders, which a nightly run's own results hold only for the orders it priced)."""
    with duckdb.connect(str(database), read_only=True) as con:
        return con.sql(
            """WITH shops AS (SELECT DISTINCT shop_id FROM orders WHERE list_contains($shops, shop_id)),
                    discounts AS (
                        SELECT o.shop_id,
                               CAST(100 * coalesce(sum(d.amount) FILTER (WHERE d.funded_by = 'seller'), 0) AS BIGINT) AS seller_funded_cents,
                               CAST(100 * coalesce(sum(d.amount) FILTER (WHERE d.funded_by = 'platform'), 0) AS BIGINT) AS tiktok_funded_cents
                        FROM discount_lines d JOIN orders o USING (order_id) GROUP BY o.shop_id),
                    unsettled AS (SELECT shop_id, count(*) AS unsettled_orders FROM unsettled_orders GROUP BY shop_id)
               SELECT s.shop_id, coalesce(d.seller_funded_cents, 0) AS seller_funded_cents,
                      coalesce(d.tiktok_funded_cents, 0) AS tiktok_funded_cents,
                      coalesce(u.unsettled_orders, 0) AS unsettled_orders
               FROM shops s LEFT JOIN discounts d USING (shop_id) LEFT JOIN unsettled u USING (shop_id)
               ORDER BY s.shop_id""",
            params={"shops": shops},
        ).pl()


def read_state(path: Path) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The state the last runs left: (order_id, shop_id, content_hash) and (shop_id, shared_hash,
    last_as_of: the `as_of` of the last run of the shop, which wrote its state); empty when there
    is no database yet, or none with a state (an older one)."""
    orders = pl.DataFrame(schema={"order_id": pl.String, "shop_id": pl.String, "content_hash": pl.UInt64})
    shops = pl.DataFrame(
        schema={"shop_id": pl.String, "shared_hash": pl.String, "last_as_of": pl.Datetime("us", "UTC")}
    )
    if not path.exists():
        return orders, shops
    with duckdb.connect(str(path), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        tables = {name for (name,) in con.execute("SELECT table_name FROM information_schema.tables").fetchall()}
        if not set(STATE) <= tables:
            return orders, shops
        return (
            con.sql("SELECT order_id, shop_id, content_hash FROM order_state").pl().cast(orders.schema),
            con.sql(
                f"""SELECT s.shop_id, s.shared_hash,
                          (SELECT r.as_of FROM {RUNS_TABLE} r WHERE r.shops IS NULL OR list_contains(r.shops, s.shop_id)
                           ORDER BY r.published_at DESC, r.run_id DESC LIMIT 1) AS last_as_of
                   FROM shop_state s"""
            )
            .pl()
            .cast(shops.schema),
        )


def covered_to(path: Path, shops: list[str] | None) -> date | None:
    """The last statement date published runs covered for all of `shops` (None: every shop the
    database knows): per shop, the latest a run of it (or of every shop) covered, its `statement_to`
    or without one the day before its `as_of` (the day of `as_of` is not over: settlements later
    that day are on its statement too), never past that day; then the earliest of the shops. None
    when there is no database yet, no such run, or the database cannot be read now."""
    if not path.exists():
        return None
    wanted = "SELECT unnest($shops) AS shop_id" if shops else "SELECT DISTINCT shop_id FROM orders"
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            con.execute("SET TimeZone = 'UTC'")
            row = con.execute(
                f"""WITH wanted AS ({wanted}),
                    per_shop AS (
                        SELECT w.shop_id,
                               max(least(coalesce(r.statement_to, CAST(r.as_of AS DATE) - 1), CAST(r.as_of AS DATE) - 1)) AS covered
                        FROM wanted w JOIN {RUNS_TABLE} r ON r.shops IS NULL OR list_contains(r.shops, w.shop_id)
                        GROUP BY w.shop_id)
                    SELECT min(covered) FROM per_shop""",
                {"shops": shops} if shops else {},
            ).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None


def published_run(path: Path) -> str | None:
    """The run the database at `path` was last published by (its newest `settle_runs` row); None
    when there is no database yet, or it cannot be read now (an analyst holds it for writing)."""
    if not path.exists():
        return None
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            row = con.execute(
                f"SELECT run_id FROM {RUNS_TABLE} ORDER BY published_at DESC, run_id DESC LIMIT 1"
            ).fetchone()
    except duckdb.Error:
        return None
    return row[0] if row else None
