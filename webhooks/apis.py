"""The Events API: the client's own events, in the key's mode (live or test),
and their redelivery. Thin views: validate, call a selector or a service, present."""

from rest_framework.response import Response
from rest_framework.views import APIView

from truestack.negotiation import IgnoreAcceptNegotiation
from truestack.pagination import ClientCursorPagination

from . import openapi, presenters
from .selectors import event_get_for_client, events_for_listing
from .services import event_redeliver, events_redeliver_bulk, redelivery_throttle
from .validation import validate_bulk_redeliver


class EventsApiView(APIView):
    content_negotiation_class = IgnoreAcceptNegotiation


class EventCursorPagination(ClientCursorPagination):
    """Events, newest first."""


class EventListApi(EventsApiView):
    @openapi.event_list
    def get(self, request):
        paginator = EventCursorPagination()
        queryset = events_for_listing(
            client_id=request.user.pk, is_test=request.auth.is_test, params=request.query_params
        )
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        return paginator.get_paginated_response([presenters.event_summary(event) for event in page])


class EventDetailApi(EventsApiView):
    @openapi.event_retrieve
    def get(self, request, event_id):
        event = event_get_for_client(client_id=request.user.pk, is_test=request.auth.is_test, event_id=event_id)
        return Response(presenters.event_detail(event))


class EventRedeliverApi(EventsApiView):
    @openapi.event_redeliver
    def post(self, request, event_id):
        event = event_get_for_client(client_id=request.user.pk, is_test=request.auth.is_test, event_id=event_id)
        redelivery_throttle(client=request.user)
        delivery = event_redeliver(event=event)
        return Response(presenters.redelivery_accepted(delivery), status=202)


class EventsBulkRedeliverApi(EventsApiView):
    @openapi.events_bulk_redeliver
    def post(self, request):
        values = validate_bulk_redeliver(request.data)
        redelivery_throttle(client=request.user)
        accepted = events_redeliver_bulk(client=request.user, is_test=request.auth.is_test, **values)
        body = presenters.bulk_redelivery_accepted(
            count=accepted.count, truncated=accepted.truncated, job_id=accepted.job.pk if accepted.job else None
        )
        return Response(body, status=202)
