"""PDFs of statements and invoices (fpdf2: pure Python, core fonts only), kept
in the default storage (private; S3 in production) under billing/. A document
never changes once issued, so its PDF is rendered once and read back after."""

import logging
from datetime import timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from .models import Invoice, Statement
from .money import credits_to_rm, format_rm

logger = logging.getLogger(__name__)

BRAND = (11, 83, 148)


def _latin1(text) -> str:
    # Core PDF fonts cover Latin-1; anything else is printed as "?".
    return str(text).encode("latin-1", "replace").decode("latin-1")


def _credits(value: int) -> str:
    return f"{value:,}"


class _Document(FPDF):
    def __init__(self, title: str):
        super().__init__(format="A4")
        self.doc_title = title
        self.set_auto_page_break(auto=True, margin=20)
        self.set_title(_latin1(title))
        self.set_author(_latin1(settings.BILLING_COMPANY_NAME))
        self.add_page()

    def header(self):
        self.set_fill_color(*BRAND)
        self.rect(0, 0, 210, 6, style="F")
        self.set_y(10)
        self.set_font("Helvetica", "B", 16)
        self.set_text_color(*BRAND)
        self.cell(100, 8, "TrueStack")
        self.set_font("Helvetica", "B", 13)
        self.set_text_color(0, 0, 0)
        self.cell(0, 8, _latin1(self.doc_title), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_font("Helvetica", "", 8)
        self.set_text_color(80, 80, 80)
        company = (
            f"{settings.BILLING_COMPANY_NAME}  |  Reg. No. {settings.BILLING_COMPANY_REGISTRATION_NUMBER}  |  "
            f"SST No. {settings.BILLING_COMPANY_SST_NUMBER}"
        )
        self.cell(0, 4, _latin1(company), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.cell(
            0,
            4,
            _latin1(f"{settings.BILLING_COMPANY_ADDRESS}  |  {settings.BILLING_COMPANY_EMAIL}"),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        self.set_text_color(0, 0, 0)
        self.ln(4)

    def footer(self):
        self.set_y(-14)
        self.set_font("Helvetica", "", 7)
        self.set_text_color(120, 120, 120)
        self.cell(0, 4, _latin1(f"{self.doc_title}  -  page {self.page_no()}/{{nb}}"), align="C")

    def line_text(self, text: str, *, bold: bool = False, size: int = 9, height: float = 5):
        self.set_font("Helvetica", "B" if bold else "", size)
        self.multi_cell(0, height, _latin1(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def pair(self, label: str, value: str, *, bold: bool = False, width: float = 120):
        self.set_font("Helvetica", "B" if bold else "", 9)
        self.cell(width, 6, _latin1(label))
        self.cell(0, 6, _latin1(value), align="R", new_x=XPos.LMARGIN, new_y=YPos.NEXT)

    def table(self, headings: list[str], widths: list[float], rows: list[list[str]], align: str):
        self.set_font("Helvetica", "B", 8)
        self.set_fill_color(230, 236, 245)
        for heading, width, how in zip(headings, widths, align, strict=True):
            self.cell(width, 6, _latin1(heading), border="B", align=how, fill=True)
        self.ln(6)
        self.set_font("Helvetica", "", 8)
        for row in rows:
            for value, width, how in zip(row, widths, align, strict=True):
                self.cell(width, 5.5, _latin1(value), align=how)
            self.ln(5.5)
        self.ln(2)

    def bill_to(self, details: dict):
        self.line_text("Bill to", bold=True)
        lines = [details.get("name") or "", details.get("address") or ""]
        if details.get("registration_number"):
            lines.append(f"Reg. No. {details['registration_number']}")
        if details.get("sst_number"):
            lines.append(f"SST No. {details['sst_number']}")
        if details.get("email"):
            lines.append(details["email"])
        lines.append(f"Client code {details.get('code', '')}")
        self.line_text("\n".join(line for line in lines if line))
        self.ln(3)

    def render(self) -> bytes:
        return bytes(self.output())


def _bill_to_for(client) -> dict:
    from .invoices import bill_to

    return bill_to(client=client)


def statement_render(statement: Statement) -> bytes:
    month = statement.month.strftime("%B %Y")
    doc = _Document(f"Statement {month}")
    tz = ZoneInfo(settings.BILLING_TIME_ZONE)
    doc.bill_to(_bill_to_for(statement.client))
    last_day = (statement.period_end - timedelta(microseconds=1)).astimezone(tz)
    doc.line_text(
        f"Period: {statement.period_start.astimezone(tz):%d %b %Y} to {last_day:%d %b %Y} (Asia/Kuala_Lumpur). "
        f"Issued {statement.created_at.astimezone(tz):%d %b %Y}. Credits: "
        f"{settings.BILLING_CREDITS_PER_RINGGIT} credits = RM 1."
    )
    doc.ln(2)
    doc.line_text("Credits added", bold=True, size=10)
    rows = [
        [line["date"], line["kind"], line["description"][:60], _credits(line["credits"])]
        for line in statement.credit_lines
    ]
    doc.table(["Date", "Kind", "Description", "Credits"], [24, 24, 112, 30], rows or [["", "none", "", ""]], "LLLR")
    doc.line_text("Usage by tier", bold=True, size=10)
    rows = [
        [row["tier"], str(row["sessions"]), str(row["approved"]), str(row["rejected"]), _credits(row["credits"])]
        for row in statement.usage_by_tier
    ]
    doc.table(
        ["Tier", "Sessions", "Approved", "Rejected", "Credits"],
        [70, 30, 30, 30, 30],
        rows or [["none", "0", "0", "0", "0"]],
        "LRRRR",
    )
    doc.line_text("Summary (credits)", bold=True, size=10)
    doc.pair("Opening balance", _credits(statement.opening_balance))
    doc.pair("Top-ups", _credits(statement.topup_credits))
    doc.pair("Included (promotional)", _credits(statement.included_credits))
    doc.pair("Refunds", _credits(statement.refund_credits))
    doc.pair("Adjustments", _credits(statement.adjustment_credits))
    doc.pair(f"Usage ({statement.usage_sessions} sessions)", _credits(-statement.usage_credits))
    doc.pair("Closing balance", _credits(statement.closing_balance), bold=True)
    doc.pair("Closing balance in RM", format_rm(credits_to_rm(statement.closing_balance)), bold=True)
    return doc.render()


_TITLES: dict[str, str] = {
    Invoice.Kind.TOPUP: "Tax Invoice",
    Invoice.Kind.MONTHLY: "Tax Invoice",
    Invoice.Kind.CREDIT_NOTE: "Credit Note",
}


def invoice_render(invoice: Invoice) -> bytes:
    doc = _Document(f"{_TITLES[invoice.kind]} {invoice.number}")
    doc.bill_to(invoice.bill_to)
    doc.pair("Number", invoice.number)
    doc.pair("Issue date", invoice.issue_date.strftime("%d %b %Y"))
    if invoice.kind != Invoice.Kind.CREDIT_NOTE:
        doc.pair("Due date", invoice.due_date.strftime("%d %b %Y"))
    if invoice.period_month:
        doc.pair("Period", invoice.period_month.strftime("%B %Y"))
    if invoice.original is not None:
        doc.pair("Voids invoice", invoice.original.number)
    if invoice.note:
        doc.line_text(f"Note: {invoice.note}")
    doc.ln(3)
    rows = [
        [line["description"][:80], _credits(line["credits"]), format_rm(Decimal(line["amount"]))]
        for line in invoice.lines
    ]
    doc.table(["Description", "Credits", "Amount"], [125, 30, 35], rows, "LRR")
    doc.pair("Subtotal (service amount)", format_rm(invoice.subtotal))
    doc.pair(f"SST {invoice.sst_rate.normalize():f}%", format_rm(invoice.sst_amount))
    doc.pair("Total", format_rm(invoice.total), bold=True)
    doc.ln(4)
    doc.line_text(settings.BILLING_INVOICE_TERMS, size=8)
    return doc.render()


# --- storage ----------------------------------------------------------------------


def statement_pdf_path(statement: Statement) -> str:
    return f"billing/{statement.client_id}/statements/{statement.month:%Y-%m}.pdf"


def invoice_pdf_path(invoice: Invoice) -> str:
    return f"billing/{invoice.client_id}/invoices/{invoice.number}.pdf"


def document_pdf(document: Statement | Invoice) -> bytes:
    """The stored PDF of a statement or invoice, rendered and stored on first use."""
    path = statement_pdf_path(document) if isinstance(document, Statement) else invoice_pdf_path(document)
    if document.pdf_path and default_storage.exists(document.pdf_path):
        with default_storage.open(document.pdf_path, "rb") as handle:
            return handle.read()
    content = statement_render(document) if isinstance(document, Statement) else invoice_render(document)
    stored = default_storage.save(path, ContentFile(content))
    type(document).objects.filter(pk=document.pk).update(pdf_path=stored)
    document.pdf_path = stored
    return content


def document_pdf_filename(document: Statement | Invoice) -> str:
    if isinstance(document, Statement):
        return f"TrueStack-statement-{document.client.code}-{document.month:%Y-%m}.pdf"
    return f"{document.number}.pdf"


def documents_store(documents: list) -> int:
    """Render and store the PDFs of newly issued documents (the monthly job), so
    they are in storage before anyone asks. A failure is logged and retried on
    the first download."""
    stored = 0
    for document in documents:
        try:
            document_pdf(document)
            stored += 1
        except Exception:
            logger.exception("billing: could not store the PDF of %s %s", type(document).__name__, document.pk)
    return stored
