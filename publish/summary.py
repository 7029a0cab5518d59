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


def print_import_summary(summary: dict) -> None:
    """Per source file what became of its rows, then the tables written and what was assumed."""
    console = Console(width=max(Console().width, 140))
    table = Table(title=f"Imported into {summary['input_dir']}")
    for header in ("Source file", "Rows read", "Imported", "Superseded", "Rejected"):
        table.add_column(header, justify="left" if header == "Source file" else "right")
    for name, counts in summary["files"].items():
        table.add_row(name, *(f"{counts[k]:,}" for k in ("read", "imported", "superseded", "rejected")))
    console.print(table)
    console.print("Tables: " + "   ".join(f"{name} {rows:,}" for name, rows in summary["tables"].items()))
    if summary["copies"]:
        console.print(f"Copies of a file already read (skipped): {len(summary['copies']):,}")
    rejected = summary["rejected_by_reason"]
    console.print(
        f"Rows rejected: {sum(rejected.values()):,}"
        + (
            " (" + ", ".join(f"{reason} {n:,}" for reason, n in rejected.items()) + "; see import_rejected_rows)"
            if rejected
            else ""
        )
    )
    assumed = {code: n for code, n in summary["assumptions"].items() if n}
    if assumed:
        console.print(
            "Orders priced under an assumption (docs/importing.md): "
            + ", ".join(f"{code} {n:,}" for code, n in assumed.items())
        )
    if summary["returns_pending"]:
        console.print(f"Returns not yet complete (not refunds yet): {summary['returns_pending']:,}")
    if summary["run_will_reject"]:
        console.print(
            "The run will reject: " + ", ".join(f"{reason} {n:,}" for reason, n in summary["run_will_reject"].items())
        )
    console.print(f"Manifest: {summary['manifest']}")
