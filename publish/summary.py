"""What a run tells the person who started it: per shop, the money and where the files are."""

from rich.console import Console
from rich.table import Table

from transforms.money import money_text


def money(cents: int) -> str:
    return money_text(cents, "$", cents=True)


def print_summary(summary: dict) -> None:
    console = Console(width=max(Console().width, 140))
    table = Table(title=f"Settlement as of {summary['as_of']}")
    for header in (
        "Shop",
        "Statements",
        "Settlement total",
        "Seller-funded discounts",
        "TikTok-funded discounts",
        "Refunds (gross)",
        "Fees",
        "Unsettled orders",
    ):
        table.add_column(header, justify="right" if header != "Shop" else "left")
    for shop in summary["shops"]:
        table.add_row(
            shop["shop_id"],
            f"{shop['statements']:,}",
            money(shop["settlement_cents"]),
            money(shop["seller_funded_cents"]),
            money(shop["tiktok_funded_cents"]),
            money(shop["gross_refunds_cents"]),
            money(shop["fees_cents"]),
            f"{shop['unsettled_orders']:,}",
        )
    console.print(table)
    console.print(
        f"Orders accepted: {summary['orders_accepted']:,}   Rows rejected: {summary['rows_rejected']:,} (see rejected_rows)"
    )
    if summary.get("recon_statements"):
        console.print(
            f"Reconciled statements: {summary['recon_statements']:,}   Breaks: {summary['recon_breaks']:,}   Report: {summary['report']}"
        )
    else:
        console.print("No reported exports found under reported/: nothing reconciled.")
    if summary.get("caught_up"):
        console.print(
            f"Caught up {len(summary['caught_up'])} statement date(s) no run had published: {', '.join(summary['caught_up'])}"
        )
    console.print(f"Outputs: {summary['published']}   Database: {summary['database']}")
