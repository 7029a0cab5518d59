"""What a run tells the person who started it: a short summary on the terminal."""

from rich.console import Console
from rich.table import Table


def _money(cents: int) -> str:
    sign = "-" if cents < 0 else ""
    return f"{sign}${abs(cents) // 100:,}.{abs(cents) % 100:02d}"


def print_summary(summary: dict) -> None:
    console = Console()
    table = Table(title="Settlement run", show_header=False)
    table.add_row("Orders accepted", f"{summary['orders_accepted']:,}")
    table.add_row("Rows rejected", f"{summary['rows_rejected']:,}")
    table.add_row("Seller-funded discounts", _money(summary["seller_discount_cents"]))
    table.add_row("TikTok-funded discounts", _money(summary["platform_discount_cents"]))
    table.add_row("Refunds", f"{summary['refunds']:,}")
    table.add_row("Outputs", summary["published"])
    console.print(table)
