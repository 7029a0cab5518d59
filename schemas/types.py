"""Column types the contracts share: money as Decimal(18,2) and instants in UTC."""

from typing import Annotated

import polars as pl

Money = Annotated[pl.Decimal, 18, 2]
UtcTime = Annotated[pl.Datetime, "us", "UTC"]
