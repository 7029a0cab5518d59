"""Statement journals: the account mapping, balance, the clearing line, and the reported mode."""

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest.accounts import DEFAULT_ACCOUNTS, read_accounts
from ingest.input_tables import read_inputs
from ingest.reported import read_reported
from schemas.journal import POSTED_COLUMNS, JournalLines, MappingError
from schemas.layout import ORDER_DETAILS_MONEY, cents_name
from transforms.journal import computed_journals, reported_journals, statement_sums
from transforms.pipeline import compute

SAMPLES = Path(__file__).resolve().parents[1] / "data_samples"
MAPPING = read_accounts()

# ---------------------------------------------------------------- the mapping, as a truth table

# column | account of the default mapping ("-" = not posted). Every money column of the Order
# details layout is here once: a column added to the layout and not to this table fails below.
DEFAULT_MAPPING = """
Total settlement amount                     | -
Net sales                                   | -
Gross sales                                 | sales
Gross sales refund                          | refunds
Seller discount                             | seller_discounts
Seller discount refund                      | seller_discounts
Shipping                                    | -
TikTok Shop shipping fee                    | shipping_costs
Fulfilled by TikTok Shop (FBT) shipping fee | shipping_costs
FBT fulfillment fee                         | shipping_costs
Customer shipping fee offset                | shipping_income
Limited-time sign up shipping incentive     | shipping_income
Signature confirmation service fee          | shipping_costs
Shipping insurance fee                      | shipping_costs
Customer-paid shipping fee                  | shipping_income
Customer-paid shipping fee refund           | shipping_income
TikTok Shop shipping incentive              | shipping_income
TikTok Shop shipping incentive refund       | shipping_income
Shipping fee subsidy                        | shipping_income
Return shipping fee                         | shipping_costs
Fees                                        | -
Transaction fee                             | other_fees
Referral fee                                | referral_fees
Refund administration fee                   | refund_admin_fees
Affiliate commission                        | affiliate_commissions
Affiliate partner commission                | affiliate_commissions
Adjustment amount                           | adjustments
Customer payment                            | -
Customer refund                             | -
Seller co-funded voucher discount           | -
Seller co-funded voucher discount refund    | -
Platform discounts                          | -
Platform discounts refund                   | -
Platform co-funded voucher discounts        | -
Platform co-funded voucher discounts refund | -
Ads referral fee discount                   | -
Sales tax payment                           | -
Sales tax refund                            | -
Retail delivery fee payment                 | -
Retail delivery fee refund                  | -
Customer-paid shipping fee before discounts | -
Seller shipping fee discount                | -
TikTok Shop shipping fee discount to customer | -
"""


def test_the_default_mapping_truth_table():
    table = dict(tuple(part.strip() for part in line.split("|")) for line in DEFAULT_MAPPING.strip().splitlines())
    assert list(table) == list(ORDER_DETAILS_MONEY)
    posted = MAPPING.column_accounts()
    assert {column: posted.get(column, "-") for column in ORDER_DETAILS_MONEY} == table
    # TikTok-funded discounts and marketplace-facilitator sales tax are declared, and not posted.
    assert MAPPING.account("tiktok_funded_discounts").columns == ()
    assert MAPPING.account("sales_tax").columns == ()


def _mapping_file(tmp_path: Path, edit) -> Path:
    text = edit(DEFAULT_ACCOUNTS.read_text())
    path = tmp_path / "accounts.toml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        # Referral fee dropped from its account: unmapped.
        (lambda t: t.replace('columns = ["Referral fee"]', "columns = []"), "column 'Referral fee' is not mapped"),
        # Gross sales on two accounts.
        (
            lambda t: t.replace('columns = ["Gross sales refund"]', 'columns = ["Gross sales refund", "Gross sales"]'),
            "column 'Gross sales' is mapped twice: accounts.sales and accounts.refunds",
        ),
        # Sales tax posted: informational, so the journal could not balance.
        (
            lambda t: t.replace('    "Sales tax payment",\n', "").replace(
                'code = "2200"\ntax_rate = "Tax Exempt"\ncolumns = []',
                'code = "2200"\ntax_rate = "Tax Exempt"\ncolumns = ["Sales tax payment"]',
            ),
            "column 'Sales tax payment' is informational",
        ),
        # A column of the total left out of every account.
        (
            lambda t: t.replace('columns = ["Transaction fee"]', "columns = []").replace(
                '    "Fees",\n', '    "Fees",\n    "Transaction fee",\n'
            ),
            "column 'Transaction fee' is part of the Total settlement amount",
        ),
        (lambda t: t.replace('"Gross sales"]', '"Gross sale"]'), "column 'Gross sale' (accounts.sales) is not a money"),
        (lambda t: t.replace("[clearing]", "[clearing_account]"), "the [clearing] account is missing"),
        (
            lambda t: t.replace('"Platform penalty" = "other_fees"', '"Platform penalty" = "penalties"'),
            "adjustment type 'Platform penalty' names 'penalties'",
        ),
        (lambda t: t + "\n[accounts.x\n", "not a TOML file"),
    ],
)
def test_a_bad_mapping_stops_with_a_message_naming_the_file_and_the_column(tmp_path, edit, message):
    path = _mapping_file(tmp_path, edit)
    with pytest.raises(MappingError) as failed:
        read_accounts(path)
    assert str(failed.value).startswith(f"{path}: ")
    assert message in str(failed.value)


# ---------------------------------------------------------------- balance, as a property


def _sums(statements: list[dict[str, int]]) -> pl.DataFrame:
    """Statement sums as `statement_sums` gives them: the posted columns, and their total."""
    rows = []
    for i, parts in enumerate(statements):
        row = {"shop_id": "S1", "statement_date_utc": f"2026-10-{i + 1:02d}", "statement_id": f"S1-{i}"}
        row |= {cents_name(label): parts.get(label, 0) for label in POSTED_COLUMNS}
        row[cents_name("Total settlement amount")] = sum(parts.values())
        rows.append(row)
    return pl.DataFrame(rows)


AMOUNTS = st.integers(min_value=-(10**11), max_value=10**11)  # up to $1bn either way, in cents


@settings(max_examples=200, deadline=None)
@given(st.lists(st.dictionaries(st.sampled_from(POSTED_COLUMNS), AMOUNTS, max_size=8), min_size=1, max_size=4))
def test_any_statements_give_journals_that_balance_with_the_total_on_clearing(statements):
    lines = computed_journals(_sums(statements), MAPPING)
    JournalLines.validate(lines, lazy=True)  # debits = credits, clearing = total, one side per line
    for i, parts in enumerate(statements):
        journal = lines.filter(pl.col("statement_id") == f"S1-{i}")
        clearing = journal.filter(pl.col("account_key") == "clearing")
        total = sum(parts.values())
        assert (clearing["debit"].sum() - clearing["credit"].sum()) * 100 == total
        assert journal["debit"].sum() == journal["credit"].sum()
        assert (journal["debit"] * journal["credit"] == 0).all()  # no line on both sides
        assert (journal["debit"] + journal["credit"] > 0).all()  # no zero line


def test_one_statement_by_hand():
    # Gross 31.00, seller discount −1.50, customer-paid shipping 5.99, label −4.50, referral −2.22:
    # total 28.77. Clearing debit 28.77; sales credit 31.00; discounts debit 1.50; shipping
    # income credit 5.99; labels debit 4.50; referral debit 2.22: debits 36.99 = credits 36.99.
    sums = _sums(
        [
            {
                "Gross sales": 3100,
                "Seller discount": -150,
                "Customer-paid shipping fee": 599,
                "TikTok Shop shipping fee": -450,
                "Referral fee": -222,
            }
        ]
    )
    lines = computed_journals(sums, MAPPING)
    assert lines.select("line", "account_key", pl.col("debit").cast(str), pl.col("credit").cast(str)).rows() == [
        (1, "clearing", "28.77", "0.00"),
        (2, "sales", "0.00", "31.00"),
        (3, "seller_discounts", "1.50", "0.00"),
        (4, "shipping_income", "0.00", "5.99"),
        (5, "shipping_costs", "4.50", "0.00"),
        (6, "referral_fees", "2.22", "0.00"),
    ]
    assert lines["memo"].unique().to_list() == ["TikTok Shop statement S1-0 of 2026-10-01, shop S1"]


# ---------------------------------------------------------------- the reported mode on the samples


@pytest.fixture(scope="module")
def samples():
    details, statements, _ = read_reported(SAMPLES)
    results = compute(
        read_inputs(SAMPLES),
        datetime(2026, 11, 1, tzinfo=UTC),
        reported_details=details,
        reported_statements=statements,
    )
    published = results.published()
    sums = statement_sums(published["order_details"].lazy())
    return sums, published["recon_statements"], published["recon_breaks"], details


def test_reported_journals_post_the_bridge_on_differences_and_adjustments(samples):
    sums, recon_statements, recon_breaks, details = samples
    lines = reported_journals(sums, recon_statements, details, MAPPING)
    JournalLines.validate(lines, lazy=True)
    journal = ["shop_id", "statement_date_utc"]
    # One journal per reconciled statement with money, its clearing line at the reported total.
    clearing = lines.filter(pl.col("account_key") == "clearing").select(
        *journal, (pl.col("debit") - pl.col("credit")).alias("paid")
    )
    reported = recon_statements.select(*journal, "reported_total_settlement_amount", "total_breaks")
    assert (
        clearing.join(reported, on=journal).filter(pl.col("paid") != pl.col("reported_total_settlement_amount")).height
        == 0
    )
    # What the lines other than the computed ones post is the reconciliation's bridge: the
    # differences account and the reported adjustments, per statement, sum to total_breaks.
    breaks_total = (
        recon_breaks.filter(pl.col("column") == "Total settlement amount")
        .group_by(journal)
        .agg(pl.col("difference").sum().alias("bridge"))
    )
    adjustment_breaks = (
        recon_breaks.filter((pl.col("column") == "Total settlement amount") & (pl.col("break_type") == "adjustment"))
        .group_by(journal)
        .agg(pl.col("difference").sum().alias("adjusted"))
    )
    differences = lines.filter(pl.col("account_key") == "differences").select(
        *journal, (pl.col("credit") - pl.col("debit")).alias("posted")
    )
    check = (
        reported.join(breaks_total, on=journal, how="left")
        .join(adjustment_breaks, on=journal, how="left")
        .join(differences, on=journal, how="left")
        .with_columns(pl.col("bridge", "adjusted", "posted").fill_null(0))
    )
    assert (check["total_breaks"] == check["bridge"]).all()
    # The differences account alone: the bridge less the adjustments (posted by their Type).
    assert (check["posted"] == check["bridge"] - check["adjusted"]).all()
    assert check.filter(pl.col("posted") != 0).height > 0  # the samples plant differences
    assert lines.filter(pl.col("account_key") == "differences")["memo"].str.contains("break").all()


def test_journal_numbers_fit_quickbooks_and_stay_distinct():
    from publish.journals import JOURNAL_NO_CHARS, journal_number

    ids = pl.Series(
        ["SHOP-A-20261001", "7367833776804494304", "A-VERY-LONG-SHOP-NAME-20261001", "A-VERY-LONG-SHOP-NAME-20261002"]
    )
    numbers = pl.select(journal_number(pl.lit(ids))).to_series().to_list()
    assert numbers[:2] == ids.to_list()[:2]  # short enough: the Statement ID itself
    assert all(len(n) <= JOURNAL_NO_CHARS for n in numbers)
    assert numbers[2].startswith("A-VERY-LONG-") and numbers[2] != numbers[3]  # same prefix, told apart by the hash
