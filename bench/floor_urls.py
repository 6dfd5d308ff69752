"""The benchmark "floor": the least any authenticated API request must do, served
by the same gunicorn, middleware, DRF settings and authentication class as the
real endpoints. Mounted at /api/bench/ only when BENCH_FLOOR_ENABLED is on (never
in production). Each endpoint's throughput is reported as a ratio to these.

- GET  /api/bench/floor/<uuid>: the API-key lookup plus one indexed read of a
  KycSession by primary key and client.
- POST /api/bench/floor: the API-key lookup, the JSON body parsed, plus one insert
  (an IdempotencyRecord row: a small table with one index besides the primary
  key, the cheapest insert the schema offers without a bench-only model).
"""

import uuid

from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView

from kyc.models import IdempotencyRecord, KycSession
from truestack.errors import BadRequest, NotFound


class FloorReadApi(APIView):
    def get(self, request, session_id):
        row = KycSession.objects.filter(pk=session_id, client=request.user).values("id", "status").first()
        if row is None:
            raise NotFound("Session not found")
        return Response({"id": str(row["id"]), "status": row["status"]})


class FloorInsertApi(APIView):
    def post(self, request):
        if not isinstance(request.data, dict):
            raise BadRequest("Request body must be a JSON object")
        record = IdempotencyRecord.objects.create(client=request.user, key=uuid.uuid4().hex, request_hash="bench-floor")
        return Response({"id": record.pk}, status=201)


urlpatterns = [
    path("floor", FloorInsertApi.as_view(), name="bench-floor-insert"),
    path("floor/<uuid:session_id>", FloorReadApi.as_view(), name="bench-floor-read"),
]
