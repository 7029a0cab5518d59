"""The statement journals' contracts: the account mapping, and `journal_lines` (docs/journals.md).

A statement's journal posts every column that makes up its Total settlement amount (Net sales,
Shipping and Fees parts, and the adjustment) to the account the mapping names, and the total to
the clearing account, so it balances by construction; the mapping is checked before any run uses
it, and the journal lines are checked on the full data like the other identities.
"""

from dataclasses import dataclass, field

import pandera.polars as pa
import polars as pl

from schemas.checks import unique_rows
from schemas.layout import FEES_PARTS, NET_SALES_PARTS, ORDER_DETAILS_MONEY, SHIPPING_PARTS
from schemas.types import Money

# The columns whose sum is a row's Total settlement amount: what a journal posts.
POSTED_COLUMNS = (*NET_SALES_PARTS, *SHIPPING_PARTS, *FEES_PARTS, "Adjustment amount")
CLEARING, DIFFERENCES = "clearing", "differences"
SOURCES = ("computed", "reported")


class MappingError(ValueError):
    """An account mapping that cannot post a balanced journal; the message names the column or key."""


@dataclass(frozen=True)
class Account:
    key: str
    name: str  # QuickBooks Online matches accounts by name
    code: str  # Xero matches accounts by code
    tax_rate: str  # Xero's tax rate name for the account's lines
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountMap:
    """The accounts (clearing and differences first), and the reported adjustment Types' accounts."""

    accounts: tuple[Account, ...]
    adjustment_types: dict[str, str] = field(default_factory=dict)  # normalised Type → account key
    source: str = "default"  # the file it came from, for the manifest

    def account(self, key: str) -> Account:
        return next(account for account in self.accounts if account.key == key)

    def column_accounts(self) -> dict[str, str]:
        """Posted column → account key."""
        return {column: account.key for account in self.accounts for column in account.columns}


def normalise_type(text: str) -> str:
    """An adjustment Type as matched: lower case, spaces dropped (as reconciliation reads Type)."""
    return "".join(text.lower().split())


def check_mapping(accounts: list[Account], not_posted: list[str], adjustment_types: dict[str, str]) -> None:
    """Every Order details money column mapped exactly once (to an account, or not posted), and
    exactly the columns of the Total settlement amount posted; the messages name what is wrong."""
    keys = [account.key for account in accounts]
    for key in (CLEARING, DIFFERENCES):
        if key not in keys:
            raise MappingError(f"the [{key}] account is missing")
    if len(set(keys)) != len(keys):
        raise MappingError(f"account {next(k for k in keys if keys.count(k) > 1)!r} is declared twice")
    for special in (CLEARING, DIFFERENCES):
        if next(a for a in accounts if a.key == special).columns:
            raise MappingError(f"the [{special}] account takes no columns: it is posted from the statement")
    places: dict[str, list[str]] = {}
    for account in accounts:
        for column in account.columns:
            places.setdefault(column, []).append(f"accounts.{account.key}")
    for column in not_posted:
        places.setdefault(column, []).append("not_posted")
    for column, where in places.items():
        if column not in ORDER_DETAILS_MONEY:
            raise MappingError(f"column {column!r} ({where[0]}) is not a money column of the Order details layout")
        if len(where) > 1:
            raise MappingError(f"column {column!r} is mapped twice: {' and '.join(where)}")
    for column in ORDER_DETAILS_MONEY:
        if column not in places:
            raise MappingError(f"column {column!r} is not mapped: add it to an account or to [not_posted]")
        posted = places[column] != ["not_posted"]
        if posted and column not in POSTED_COLUMNS:
            raise MappingError(
                f"column {column!r} is informational (not part of the Total settlement amount): posting it "
                "would unbalance the journal; list it under [not_posted]"
            )
        if not posted and column in POSTED_COLUMNS:
            raise MappingError(
                f"column {column!r} is part of the Total settlement amount: map it to an account, or the "
                "journal would not balance"
            )
    for type_, key in adjustment_types.items():
        if key not in keys or key in (CLEARING, DIFFERENCES):
            raise MappingError(f"adjustment type {type_!r} names {key!r}, which is not a posting account")


class JournalLines(pa.DataFrameModel):
    """One row per (shop, statement date, account) with a nonzero amount: the statement's journal.

    Each journal's debits equal its credits, and its clearing line is its statement total."""

    shop_id: str
    statement_date_utc: str
    statement_id: str
    source: str = pa.Field(isin=list(SOURCES))
    line: int = pa.Field(ge=1)
    account_key: str
    account_name: str
    account_code: str
    tax_rate: str
    debit: Money = pa.Field(ge=0)
    credit: Money = pa.Field(ge=0)
    memo: str
    statement_total: Money

    class Config:
        strict = True
        unique = ["shop_id", "statement_date_utc", "account_key"]

    @pa.dataframe_check(name="one_side_per_line")
    def one_side(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select((pl.col("debit") == 0) != (pl.col("credit") == 0))

    @pa.dataframe_check(name="debits_equal_credits")
    def balanced(cls, data: pa.PolarsData) -> pl.LazyFrame:
        journal = ["shop_id", "statement_date_utc"]
        return data.lazyframe.select(
            (pl.col("debit").sum().over(journal) == pl.col("credit").sum().over(journal)).alias("balanced")
        )

    @pa.dataframe_check(name="clearing_is_statement_total")
    def clearing(cls, data: pa.PolarsData) -> pl.LazyFrame:
        journal = ["shop_id", "statement_date_utc"]
        net = pl.when(pl.col("account_key") == CLEARING).then(pl.col("debit") - pl.col("credit")).otherwise(0)
        return data.lazyframe.select((net.sum().over(journal) == pl.col("statement_total")).alias("clearing"))

    @pa.dataframe_check(name="unique_key")
    def unique_key(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return unique_rows(data, ["shop_id", "statement_date_utc", "line"])
