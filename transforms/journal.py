"""Statement journals (docs/journals.md): one balanced journal per statement, one line per account.

Each posted column of a statement is summed into the account the mapping names, as a signed
amount from the seller's side (an income is a credit, a cost a debit); the clearing account
takes the statement's Total settlement amount on the other side. The parts of a total sum to it,
so every journal balances by construction, and `JournalLines` checks it on the full data.

Two sources. `computed`: the statements this job computed. `reported`: for every statement in
the reconciled window, what the seller should have been paid (the computed lines), each
adjustment TikTok reported by its Type, and the rest of what TikTok paid on the differences
account, with the clearing line at the reported total: the books tie to the bank deposit.
"""

import polars as pl

from schemas.journal import CLEARING, DIFFERENCES, POSTED_COLUMNS, AccountMap
from schemas.layout import cents_name, snake
from transforms.money import cents_to_decimal, parse_fixed_typed
from transforms.reconcile import order_row

JOURNAL = ["shop_id", "statement_date_utc"]
_TOTAL = "Total settlement amount"


def _cents(money: pl.Expr) -> pl.Expr:
    """Published money (Decimal(18,2)) → exact integer cents, by the readers' own Decimal path."""
    return parse_fixed_typed(money, pl.Decimal(18, 2), 2)[0]


def statement_sums(order_details: pl.LazyFrame) -> pl.DataFrame:
    """Per statement (published Order details rows), the sum of each posted column and the total, in cents."""
    return (
        order_details.group_by(*JOURNAL, "statement_id")
        .agg(_cents(pl.col(snake(label))).sum().alias(cents_name(label)) for label in (*POSTED_COLUMNS, _TOTAL))
        .sort(JOURNAL)
        .collect(engine="streaming")  # a batch of rows at a time: the sums, not every row, in memory
    )


def _postings(sums: pl.DataFrame, mapping: AccountMap) -> pl.DataFrame:
    """(journal…, account_key, amount_cents): each posted column's sum on its account, credit positive."""
    accounts = mapping.column_accounts()
    return (
        sums.select(*JOURNAL, *[pl.col(cents_name(label)).alias(label) for label in POSTED_COLUMNS])
        .unpivot(index=JOURNAL, variable_name="column", value_name="amount_cents")
        .with_columns(pl.col("column").replace_strict(accounts, return_dtype=pl.String).alias("account_key"))
        .group_by(*JOURNAL, "account_key")
        .agg(pl.col("amount_cents").sum())
    )


def computed_journals(sums: pl.DataFrame, mapping: AccountMap) -> pl.DataFrame:
    """Journal lines of the computed statements (`statement_sums`)."""
    heads = sums.select(*JOURNAL, "statement_id", pl.col(cents_name(_TOTAL)).alias("total_cents"))
    memo = pl.format("TikTok Shop statement {} of {}, shop {}", "statement_id", "statement_date_utc", "shop_id")
    return _lines(_postings(sums, mapping), heads.with_columns(memo.alias("memo")), mapping, "computed")


def reported_journals(
    sums: pl.DataFrame, recon_statements: pl.DataFrame, reported_details: pl.DataFrame | None, mapping: AccountMap
) -> pl.DataFrame:
    """Journal lines of the reconciled statements (`recon_statements`, published): the computed
    lines, reported adjustments by Type, the differences line, and the reported total as clearing."""
    heads = recon_statements.select(
        *JOURNAL,
        "reported_statement_id",
        _cents(pl.col("reported_total_settlement_amount")).alias("total_cents"),
        _cents(pl.col("expected_total_settlement_amount")).alias("_expected_cents"),
        "count_breaks",
    )
    heads = heads.join(sums.select(*JOURNAL, "statement_id"), on=JOURNAL, how="left").with_columns(
        pl.coalesce(pl.col("reported_statement_id").replace("", None), "statement_id", pl.lit("")).alias("statement_id")
    )
    expected = _postings(sums, mapping).join(heads.select(JOURNAL), on=JOURNAL, how="semi")
    adjustments = _reported_adjustments(reported_details, mapping).join(heads.select(JOURNAL), on=JOURNAL, how="semi")
    differences = heads.join(
        adjustments.group_by(JOURNAL).agg(pl.col("amount_cents").sum().alias("_adjusted")), on=JOURNAL, how="left"
    ).select(
        *JOURNAL,
        pl.lit(DIFFERENCES).alias("account_key"),
        (pl.col("total_cents") - pl.col("_expected_cents") - pl.col("_adjusted").fill_null(0)).alias("amount_cents"),
    )
    memo = pl.format(
        "TikTok Shop statement {} of {}, shop {}: as reported; {} break(s) in recon_breaks for this shop and date",
        "statement_id",
        "statement_date_utc",
        "shop_id",
        "count_breaks",
    )
    postings = pl.concat([expected, adjustments, differences], how="vertical_relaxed")
    return _lines(postings, heads.with_columns(memo.alias("memo")), mapping, "reported")


def _reported_adjustments(reported_details: pl.DataFrame | None, mapping: AccountMap) -> pl.DataFrame:
    """(journal…, account_key, amount_cents) of the reported adjustment rows (a Type other than
    Order or Refund), each on the account of its Type, else `adjustments`."""
    schema = {"shop_id": pl.String, "statement_date_utc": pl.String, "account_key": pl.String, "amount_cents": pl.Int64}
    if reported_details is None or reported_details.height == 0:
        return pl.DataFrame(schema=schema)
    kind = pl.col("type").str.to_lowercase().str.replace_all(r"\s", "")  # as `normalise_type`
    return (
        reported_details.filter(~order_row())  # the rows reconciliation counts as adjustments
        .group_by(
            "shop_id",
            pl.col("statement_date").dt.strftime("%Y-%m-%d").alias("statement_date_utc"),
            kind.replace_strict(mapping.adjustment_types, default="adjustments", return_dtype=pl.String).alias(
                "account_key"
            ),
        )
        .agg(pl.col(cents_name(_TOTAL)).sum().alias("amount_cents"))
        .cast(schema)
    )


def _lines(postings: pl.DataFrame, heads: pl.DataFrame, mapping: AccountMap, source: str) -> pl.DataFrame:
    """The journal lines: clearing first (the statement total, debit when positive), then every
    account in the mapping's order; only nonzero amounts; money as Decimal(18,2)."""
    clearing = heads.select(
        *JOURNAL, pl.lit(CLEARING).alias("account_key"), (-pl.col("total_cents")).alias("amount_cents")
    )
    order = {account.key: i for i, account in enumerate(mapping.accounts)}
    order[CLEARING], order[DIFFERENCES] = -1, len(order)
    accounts = pl.DataFrame(
        {
            "account_key": [a.key for a in mapping.accounts],
            "account_name": [a.name for a in mapping.accounts],
            "account_code": [a.code for a in mapping.accounts],
            "tax_rate": [a.tax_rate for a in mapping.accounts],
        }
    )
    amount = pl.col("amount_cents")
    lines = (
        pl.concat([clearing, postings.select(clearing.columns)], how="vertical_relaxed")
        .group_by(*JOURNAL, "account_key")
        .agg(amount.sum())
        .filter(amount != 0)
        .join(heads.select(*JOURNAL, "statement_id", "memo", "total_cents"), on=JOURNAL)
        .join(accounts, on="account_key")
        .with_columns(pl.col("account_key").replace_strict(order, return_dtype=pl.Int64).alias("_order"))
        .sort(*JOURNAL, "_order")
    )
    return lines.select(
        *JOURNAL,
        "statement_id",
        pl.lit(source).alias("source"),
        (pl.int_range(pl.len()).over(JOURNAL) + 1).cast(pl.Int64).alias("line"),
        "account_key",
        "account_name",
        "account_code",
        "tax_rate",
        cents_to_decimal(pl.when(amount < 0).then(-amount).otherwise(0)).alias("debit"),
        cents_to_decimal(pl.when(amount > 0).then(amount).otherwise(0)).alias("credit"),
        "memo",
        cents_to_decimal(pl.col("total_cents")).alias("statement_total"),
    )
