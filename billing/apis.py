"""The client's view of its account: balance, statements and invoices."""

from django.http import HttpResponse
from rest_framework.response import Response
from rest_framework.views import APIView

from truestack.errors import ApplicationError, NotFound
from truestack.negotiation import IgnoreAcceptNegotiation
from truestack.pagination import ClientCursorPagination

from . import openapi, pdf, presenters, selectors, services, statements
from .models import Invoice, Statement


class StatementCursorPagination(ClientCursorPagination):
    ordering = ("-month",)
    page_size = 12


class InvoiceCursorPagination(ClientCursorPagination):
    ordering = ("-created_at", "-id")


class AccountApiView(APIView):
    content_negotiation_class = IgnoreAcceptNegotiation


def wants_pdf(request) -> bool:
    if request.query_params.get("format") == "pdf":
        return True
    return "application/pdf" in request.headers.get("Accept", "")


def pdf_response(document: Statement | Invoice) -> HttpResponse:
    response = HttpResponse(pdf.document_pdf(document), content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{pdf.document_pdf_filename(document)}"'
    response["Cache-Control"] = "private, no-store"
    return response


class AccountApi(AccountApiView):
    @openapi.account_retrieve
    def get(self, request):
        client = request.user
        summary = selectors.account_summary(client=client)
        next_price = services.price_for_ordinal(client=client, ordinal=summary["mtd_sessions"] + 1)
        return Response(
            presenters.account(
                balance=summary["balance"],
                held=summary["held"],
                overdraft=client.allow_overdraft,
                month=statements.current_month().strftime("%Y-%m"),
                mtd_sessions=summary["mtd_sessions"],
                mtd_credits=summary["mtd_credits"],
                next_price=next_price,
            )
        )


class StatementListApi(AccountApiView):
    @openapi.statement_list
    def get(self, request):
        paginator = StatementCursorPagination()
        queryset = selectors.statements_for_client(client=request.user)
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        return paginator.get_paginated_response([presenters.statement(item) for item in page])


class StatementDetailApi(AccountApiView):
    @openapi.statement_retrieve
    def get(self, request, month):
        try:
            month_start = statements.month_parse(month)
        except ApplicationError:
            raise NotFound("Statement not found") from None
        item = selectors.statements_for_client(client=request.user).filter(month=month_start).first()
        if item is None:
            raise NotFound("Statement not found")
        if wants_pdf(request):
            item.client = request.user
            return pdf_response(item)
        return Response(presenters.statement(item))


class InvoiceListApi(AccountApiView):
    @openapi.invoice_list
    def get(self, request):
        paginator = InvoiceCursorPagination()
        queryset = selectors.invoices_for_client(client=request.user)
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        return paginator.get_paginated_response([presenters.invoice(item) for item in page])


class InvoiceDetailApi(AccountApiView):
    @openapi.invoice_retrieve
    def get(self, request, number):
        item = selectors.invoices_for_client(client=request.user).filter(number=number).first()
        if item is None:
            raise NotFound("Invoice not found")
        if wants_pdf(request):
            return pdf_response(item)
        return Response(presenters.invoice(item))
