"""The account API's response shapes (plain dicts). Money is a string of
ringgit with two decimals ("108.00"); credits are integers."""

from django.conf import settings

from truestack.formats import iso_utc

from .models import Invoice, Statement
from .money import credits_to_rm


def _api_url(path: str) -> str:
    return f"{settings.PUBLIC_BASE_URL}/api/v1/account/{path}"


def account(
    *, balance: int, held: int, overdraft: bool, month: str, mtd_sessions: int, mtd_credits: int, next_price
) -> dict:
    credits, tier = next_price
    return {
        "balance": balance,
        "held": held,
        "available": balance - held,
        "overdraft": overdraft,
        "credits_per_ringgit": settings.BILLING_CREDITS_PER_RINGGIT,
        "balance_rm": str(credits_to_rm(balance)),
        "month": month,
        "month_to_date": {"sessions": mtd_sessions, "credits": mtd_credits},
        "next_session": {"credits": credits, "tier": tier, "amount_rm": str(credits_to_rm(credits))},
    }


def statement(item: Statement) -> dict:
    month = item.month.strftime("%Y-%m")
    return {
        "month": month,
        "period_start": iso_utc(item.period_start),
        "period_end": iso_utc(item.period_end),
        "opening_balance": item.opening_balance,
        "credits_added": {
            "topup": item.topup_credits,
            "included": item.included_credits,
            "refund": item.refund_credits,
            "adjustment": item.adjustment_credits,
        },
        "entries": item.credit_lines,
        "usage": {"sessions": item.usage_sessions, "credits": item.usage_credits, "by_tier": item.usage_by_tier},
        "closing_balance": item.closing_balance,
        "closing_balance_rm": str(credits_to_rm(item.closing_balance)),
        "issued_at": iso_utc(item.created_at),
        "pdf_url": _api_url(f"statements/{month}?format=pdf"),
    }


def invoice(item: Invoice) -> dict:
    return {
        "number": item.number,
        "kind": item.kind,
        "status": item.status,
        "issue_date": item.issue_date.isoformat(),
        "due_date": item.due_date.isoformat(),
        "period_month": item.period_month.strftime("%Y-%m") if item.period_month else None,
        "credits": item.credits,
        "lines": item.lines,
        "subtotal": str(item.subtotal),
        "sst_rate": str(item.sst_rate),
        "sst_amount": str(item.sst_amount),
        "total": str(item.total),
        "amount_paid": str(item.amount_paid),
        "outstanding": str(item.total - item.amount_paid) if item.status != Invoice.Status.VOID else "0.00",
        "voids": item.original.number if item.original is not None else None,
        "payments": [
            {
                "paid_on": payment.paid_on.isoformat(),
                "amount": str(payment.amount),
                "method": payment.method,
                "reference": payment.reference,
            }
            for payment in item.payments.all()
        ],
        "pdf_url": _api_url(f"invoices/{item.number}?format=pdf"),
    }
