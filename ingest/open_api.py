"""Reading TikTok Shop Open API pages as saved (the JSON each call returned, one file a page) into
typed rows (transforms/open_api.py: the rules, and why): Order API 202309 pages into `ApiOrders`,
Return and Refund API 202309 Search Returns pages into `ApiReturns`.

Each page is parsed by DuckDB's JSON functions, which never turn a whole number into a double and
tell a field's JSON kind, and only the fields the import needs are taken out of it: the frames
built hold those cells, never the page, so personal data (`PERSONAL_FIELDS`) never reaches one.
All the pages are loaded into one DuckDB table (one query takes them all apart, not one a page).
Each is checked as a whole first: UTF-8 text (a byte-order mark is dropped), valid JSON, an object
with `code` 0 and a `data` object holding the expected list (`data.orders`, `data.return_orders`;
a search page of no results may leave it out when `data.total_count` is 0). The first page, in
the order given, that fails is an `ApiPageError` naming the file and what is wrong, never quoting
the page: its contents may hold personal data. A bad cell only rejects its order (or return).
"""

from pathlib import Path

import duckdb
import polars as pl

from transforms.open_api import (
    ITEM_FIELDS,
    ITEMS_LIST,
    ORDER_FIELDS,
    ORDERS_LIST,
    PERSONAL_FIELDS,
    REFUND_FIELDS,
    RETURN_FIELDS,
    RETURN_ITEM_FIELDS,
    RETURN_ITEMS_LIST,
    RETURNS_LIST,
    ApiOrders,
    ApiPageError,
    ApiReturns,
    kind_column,
    order_rows,
    raw_schema,
    return_rows,
)

__all__ = ["PERSONAL_FIELDS", "ApiOrders", "ApiPageError", "ApiReturns", "read_order_pages", "read_return_pages"]

Fields = tuple[tuple[str, str, str], ...]

# DuckDB's `json_type` of a value → the transform's `KINDS`. A whole number beyond 64 bits is a
# DOUBLE to DuckDB but keeps its digits as written: it is told apart by its text.
_KIND_SQL = """CASE json_type({v})
    WHEN 'VARCHAR' THEN 'string'
    WHEN 'BIGINT' THEN 'integer'
    WHEN 'UBIGINT' THEN 'integer'
    WHEN 'HUGEINT' THEN 'integer'
    WHEN 'DOUBLE' THEN CASE WHEN regexp_full_match({v} ->> '$', '-?[0-9]+') THEN 'integer' ELSE 'decimal' END
    WHEN 'BOOLEAN' THEN 'boolean'
    WHEN 'ARRAY' THEN 'array'
    WHEN 'OBJECT' THEN 'object'
END"""


_PAGE_FILE = {"page": pl.Int64(), "file": pl.String()}

# What tells a page of the API from anything else, per page (`_problem` reads it).
_CHECK_SQL = """SELECT page, j IS NULL, json_type(j), json_type(j, '$.code'), j ->> '$.code', json_type(j, '$.data'),
       json_type(j, '$.data.{records}'), j ->> '$.data.total_count'
FROM pages ORDER BY page"""


def read_order_pages(paths: list[Path]) -> ApiOrders:
    """The typed rows (one per order SKU) and rejected orders of Order API 202309 pages (Get Order
    Detail or Search Orders responses, as saved). Raises `ApiPageError` naming the first file that
    cannot be read as such a page; a bad cell only rejects its order."""
    orders, items = _read_pages(paths, ORDERS_LIST, ORDER_FIELDS, ITEMS_LIST, ITEM_FIELDS)
    return order_rows(orders, items)


def read_return_pages(paths: list[Path]) -> ApiReturns:
    """The refunds (one per completed return SKU), pending returns and rejected returns of Return
    and Refund API 202309 Search Returns pages, as saved. Raises `ApiPageError` naming the first
    file that cannot be read as such a page; a bad cell only rejects its return."""
    returns, items = _read_pages(
        paths, RETURNS_LIST, RETURN_FIELDS + REFUND_FIELDS, RETURN_ITEMS_LIST, RETURN_ITEM_FIELDS
    )
    return return_rows(returns, items)


def _read_pages(
    paths: list[Path], records: str, fields: Fields, items: str, item_fields: Fields
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The raw frames (transforms.open_api.raw_schema) of the records under `data.<records>` of
    every page and of their line items under `<items>`, the pages in the order given. Every page is
    loaded into one DuckDB table and checked; the first page in that order that is not a page of
    this API stops the read; then all are taken apart at once."""
    problems: dict[int, ApiPageError] = {}
    with duckdb.connect() as con:
        con.execute("CREATE TEMP TABLE pages (page BIGINT, j JSON)")
        for page, path in enumerate(paths):
            try:
                text = _text(path)
            except ApiPageError as error:
                problems[page] = error
                continue
            con.execute("INSERT INTO pages SELECT $1, TRY_CAST($2 AS JSON)", [page, text])
        for page, *facts in con.execute(_CHECK_SQL.format(records=records)).fetchall():
            problem = _problem(records, *facts)
            if problem and page not in problems:
                problems[page] = ApiPageError(str(paths[page]), problem)
        if problems:
            raise problems[min(problems)]
        top, sub = _extract(con, records, fields, items, item_fields)
    files = pl.DataFrame({"page": range(len(paths)), "file": [str(path) for path in paths]}, schema=_PAGE_FILE)
    top_schema, sub_schema = raw_schema(fields), raw_schema(item_fields, items=True)
    top = top.join(files, on="page", how="left", maintain_order="left").select(list(top_schema)).cast(top_schema)
    sub = sub.join(files, on="page", how="left", maintain_order="left").select(list(sub_schema)).cast(sub_schema)
    return top, sub


def _text(path: Path) -> str:
    """The page's text, once known to be UTF-8 (a byte-order mark dropped)."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ApiPageError(str(path), f"cannot be read ({type(exc).__name__}: {exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ApiPageError(str(path), "is not UTF-8 text: not a page as the API returns it") from None
    if not text.strip():
        raise ApiPageError(str(path), "is empty: not a page as the API returns it")
    return text


def _problem(
    records: str,
    invalid: bool,
    top: str | None,
    code_kind: str | None,
    code: str | None,
    data_kind: str | None,
    list_kind: str | None,
    total: str | None,
) -> str | None:
    """What keeps a page from being a page of this API (see the module's docstring), or None. The
    code of an error response is quoted (a whole number); nothing else of the page is."""
    if invalid:
        return "is not JSON: not a page as the API returns it"
    if top != "OBJECT":
        return "is not a JSON object: not a page as the API returns it"
    if code_kind is None:
        return "has no 'code': not a page as the API returns it"
    if code_kind not in ("BIGINT", "UBIGINT"):
        return "has a 'code' that is not a whole number: not a page as the API returns it"
    if code != "0":
        return f"is an error response (code {code}), not a page of data"
    if data_kind != "OBJECT":
        return "has no 'data' object: not a page as the API returns it"
    empty_search = list_kind in (None, "NULL") and total == "0"
    if list_kind != "ARRAY" and not empty_search:
        return f"has no 'data.{records}' list: not a page of this API"
    return None


def _extract(
    con: duckdb.DuckDBPyConnection, records: str, fields: Fields, items: str, item_fields: Fields
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The cells of `fields` of each record of every page of table `pages`, and of `item_fields`
    of each of their line items: each record's values taken out once (`json_extract` of all the
    paths at once), then each value's kind and text (for a list, its length)."""
    paths = ", ".join(f"'$.{path}'" for path, _, _ in fields)
    con.execute(
        f"""CREATE TEMP TABLE records AS
            SELECT page, row, json_extract(r, [{paths}]) AS v, json_extract(r, '$.{items}[*]') AS items
            FROM (SELECT page, unnest(l) AS r, generate_subscripts(l, 1) AS row
                  FROM (SELECT page, json_extract(j, '$.data.{records}[*]') AS l FROM pages))"""
    )
    top = con.sql(f"SELECT page, row, {_cells('v', fields)} FROM records ORDER BY page, row").pl()
    item_paths = ", ".join(f"'$.{path}'" for path, _, _ in item_fields)
    sub = con.sql(
        f"""SELECT page, row, item, {_cells("v", item_fields)}
            FROM (SELECT page, row, item, json_extract(i, [{item_paths}]) AS v
                  FROM (SELECT page, row, unnest(items) AS i, generate_subscripts(items, 1) AS item FROM records))
            ORDER BY page, row, item"""
    ).pl()
    return top, sub


def _cells(values: str, fields: Fields) -> str:
    """The select list of each field's kind and text, from the list `values` of their JSON values
    (in `fields` order). A list or an object has no text (it is shown by its kind); a list field's
    text is its length."""
    columns = []
    for position, (path, _, kind) in enumerate(fields, start=1):
        v = f"{values}[{position}]"
        columns.append(f'{_KIND_SQL.format(v=v)} AS "{kind_column(path)}"')
        if kind == "list":
            columns.append(f"CASE WHEN json_type({v}) = 'ARRAY' THEN json_array_length({v}) END AS \"{path}\"")
        else:
            columns.append(f"CASE WHEN json_type({v}) NOT IN ('ARRAY', 'OBJECT') THEN {v} ->> '$' END AS \"{path}\"")
    return ", ".join(columns)
