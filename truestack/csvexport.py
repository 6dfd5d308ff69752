"""Streamed CSV exports for admin lists: rows are read from the database in
chunks and written as they come, so 100,000 rows never sit in memory at once."""

import csv
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone

if TYPE_CHECKING:
    from django.template.response import _TemplateForResponseT

CHUNK_SIZE = 2000
# A cell starting with one of these is a formula to a spreadsheet: quote it.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return "" if value is None else value


def csv_response(*, filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())

    def lines():
        yield "\ufeff"  # BOM: spreadsheets then read the file as UTF-8
        yield writer.writerow(header)
        for row in rows:
            yield writer.writerow([_cell(v) for v in row])

    response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response


Column = tuple[str, Callable[[Any], Any]]


class CsvExportAdminMixin:
    """Adds `<changelist>/export.csv`: the list as filtered and searched, streamed.
    Subclasses define `csv_columns(request)` and may override `csv_queryset`
    and `csv_exported` (called before streaming, e.g. to log the export)."""

    csv_name = "export"
    # Typed as ModelAdmin's, which it overrides in the admin classes that mix it in.
    change_list_template: ClassVar["_TemplateForResponseT | None"] = "admin/ts_export_change_list.html"

    def csv_columns(self, request: HttpRequest) -> list[Column]:
        # Abstract: each admin that mixes this in lists its own columns (an ABC cannot be
        # used here: ModelAdmin's metaclass is not ABCMeta).
        raise NotImplementedError(f"{type(self).__name__} must define csv_columns()")

    def csv_queryset(self, request: HttpRequest, queryset):
        return queryset

    def csv_exported(self, request: HttpRequest) -> None:
        pass

    def get_urls(self):
        opts = self.model._meta  # type: ignore[attr-defined]
        view = self.admin_site.admin_view(self.export_csv_view)  # type: ignore[attr-defined]
        name = f"{opts.app_label}_{opts.model_name}_export_csv"
        return [path("export.csv", view, name=name), *super().get_urls()]  # type: ignore[misc]

    def export_csv_view(self, request: HttpRequest) -> StreamingHttpResponse:
        if not self.has_view_permission(request):  # type: ignore[attr-defined]
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)  # type: ignore[attr-defined]
        queryset = self.csv_queryset(request, changelist.get_queryset(request))
        columns = self.csv_columns(request)
        self.csv_exported(request)
        rows = ([get(obj) for _, get in columns] for obj in queryset.iterator(chunk_size=CHUNK_SIZE))
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return csv_response(filename=f"{self.csv_name}-{stamp}.csv", header=[h for h, _ in columns], rows=rows)
