"""Client API views: validate, call one service, present."""

import uuid

from django.http import HttpResponseRedirect
from django.utils import timezone
from rest_framework.response import Response
from rest_framework.views import APIView

from truestack.errors import BadRequest, Gone, NotFound
from truestack.negotiation import IgnoreAcceptNegotiation
from webhooks import openapi as events_openapi
from webhooks import presenters as events_presenters
from webhooks import services as webhooks

from . import openapi, presenters
from .documents import expiring_url, image_response, uses_presigned_urls
from .idempotency import run_idempotent
from .listing import SessionCursorPagination, sessions_for_listing
from .models import KycSession
from .redaction import session_redaction_request
from .selectors import session_get_for_client
from .services import session_create, session_refresh
from .validation import validate_session_create, validate_test_url


class ClientApiView(APIView):
    # Answers are JSON (or image bytes) whatever `Accept` says.
    content_negotiation_class = IgnoreAcceptNegotiation


class SessionListCreateApi(ClientApiView):
    @openapi.session_list
    def get(self, request):
        paginator = SessionCursorPagination()
        queryset = sessions_for_listing(client=request.user, is_test=request.auth.is_test, params=request.query_params)
        page = paginator.paginate_queryset(queryset, request, view=self) or []
        return paginator.get_paginated_response([presenters.session_summary(session) for session in page])

    @openapi.session_create
    def post(self, request):
        def create():
            data = validate_session_create(request.data)
            session = session_create(client=request.user, api_key=request.auth, data=data)
            return 201, presenters.session_created(session)

        key = request.headers.get("Idempotency-Key")
        if key is None:
            status, body = create()
            return Response(body, status=status)
        status, body, replayed = run_idempotent(client=request.user, key=key, data=request.data, handler=create)
        response = Response(body, status=status)
        if replayed:
            response["Idempotent-Replayed"] = "true"
        return response


class SessionDetailApi(ClientApiView):
    @openapi.session_retrieve
    def get(self, request, session_id):
        session = session_get_for_client(
            client=request.user,
            session_id=session_id,
            is_test=request.auth.is_test,
            fields=presenters.SESSION_DETAIL_FIELDS,
        )
        return Response(presenters.session_detail(session))

    @openapi.session_refresh
    def post(self, request, session_id):
        session = session_get_for_client(client=request.user, session_id=session_id, is_test=request.auth.is_test)
        return Response(presenters.session_refreshed(session_refresh(session=session)))


class SessionDocumentApi(ClientApiView):
    @openapi.session_document
    def get(self, request, session_id, kind):
        if kind not in KycSession.DOCUMENT_KINDS:
            raise NotFound("Unknown document")
        session = session_get_for_client(client=request.user, session_id=session_id, is_test=request.auth.is_test)
        if session.redaction_started or session.images_removed_at is not None:
            raise Gone("The session's documents have been deleted")
        path = getattr(session, kind)
        if path and uses_presigned_urls():
            return HttpResponseRedirect(expiring_url(path))
        response = image_response(path, cache_control="private, no-store") if path else None
        if response is None:
            raise NotFound("Document not available")
        return response


class EventTestApi(ClientApiView):
    """POST /api/v1/events/test: a sample `kyc.session.completed` (built here, where
    the webhook body is) sent now to the given URL, signed like a real delivery.
    No session, no event stored, nothing billed."""

    @events_openapi.event_test
    def post(self, request):
        url = validate_test_url(request.data)
        webhooks.redelivery_throttle(client=request.user)
        event_id = uuid.uuid4()
        payload = presenters.session_webhook_sample(event_id=event_id, created_at=timezone.now())
        result = webhooks.endpoint_test_send(client=request.user, api_key=request.auth, url=url, payload=payload)
        if result.refused_permanently:
            raise BadRequest(f"url cannot be called: {result.error.removeprefix('refused: ')}")
        return Response(events_presenters.endpoint_test_result(event_id=str(event_id), url=url, result=result))


class SessionRedactApi(ClientApiView):
    @openapi.session_redact
    def post(self, request, session_id):
        session = session_get_for_client(client=request.user, session_id=session_id, is_test=request.auth.is_test)
        session = session_redaction_request(session=session, source="client API", request=request)
        return Response(presenters.session_detail(session), status=202)
