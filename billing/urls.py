from django.urls import path

from . import apis

app_name = "billing"

urlpatterns = [
    path("api/v1/account", apis.AccountApi.as_view(), name="account"),
    path("api/v1/account/statements", apis.StatementListApi.as_view(), name="statements"),
    path("api/v1/account/statements/<str:month>", apis.StatementDetailApi.as_view(), name="statement-detail"),
    path("api/v1/account/invoices", apis.InvoiceListApi.as_view(), name="invoices"),
    path("api/v1/account/invoices/<str:number>", apis.InvoiceDetailApi.as_view(), name="invoice-detail"),
]
