"""Credits to ringgit. Credits are integers; RM amounts are Decimals quantized
to the sen with ROUND_HALF_UP, computed from credits each time (never summed
from rounded figures, so they cannot drift)."""

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from django.conf import settings

SEN = Decimal("0.01")


def rm(value: Decimal | int) -> Decimal:
    """Round half-up to the sen."""
    return Decimal(value).quantize(SEN, rounding=ROUND_HALF_UP)


def credits_to_rm(credits: int) -> Decimal:
    return rm(Decimal(credits) / Decimal(settings.BILLING_CREDITS_PER_RINGGIT))


def sst_rate() -> Decimal:
    return Decimal(str(settings.BILLING_SST_RATE_PERCENT)).quantize(SEN)


def format_rm(amount: Decimal) -> str:
    """RM 1,234.50 (negative as -RM 1,234.50)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}RM {abs(amount):,.2f}"


@dataclass(frozen=True)
class Amounts:
    subtotal: Decimal
    sst_rate: Decimal
    sst_amount: Decimal
    total: Decimal


def invoice_amounts(line_credits: list[int], *, rate: Decimal | None = None) -> tuple[list[Decimal], Amounts]:
    """Each line rounded to the sen, the subtotal their sum, SST computed once on
    the subtotal and rounded once, total = subtotal + SST."""
    rate = sst_rate() if rate is None else rate
    lines = [credits_to_rm(credits) for credits in line_credits]
    subtotal = sum(lines, Decimal("0.00"))
    sst = rm(subtotal * rate / 100)
    return lines, Amounts(subtotal=subtotal, sst_rate=rate, sst_amount=sst, total=subtotal + sst)
