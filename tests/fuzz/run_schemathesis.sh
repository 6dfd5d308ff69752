#!/usr/bin/env bash
# Schema fuzzing of the client API against a real server (called by .ci/run).
#
# Starts gunicorn on 127.0.0.1 with the embedded-default settings (provider
# sandbox on the same server), a throwaway DATA_DIR and, when DATABASE_URL is
# set, a fresh PostgreSQL database named <db>_fuzz. Then runs schemathesis twice
# against /api/schema/: with a valid ts_test_ key and with a bad key. Fails on a
# 5xx, or an answer whose status, content type, headers or body the schema does
# not describe. Always stops the server.
set -euo pipefail
cd "$(dirname "$0")/../.."

PY=.venv/bin/python
ST="$PWD/.venv/bin/schemathesis"
MAX_EXAMPLES="${FUZZ_MAX_EXAMPLES:-100}"
SEED="${FUZZ_SEED:-20260128}"
PORT="${FUZZ_PORT:-$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}"
BASE="http://127.0.0.1:${PORT}"
WORK="$(mktemp -d)"
SERVER_PID=""
ADMIN_URL=""
FUZZ_DB=""

cleanup() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  if [ -n "$FUZZ_DB" ]; then
    psql "$ADMIN_URL" -q -c "DROP DATABASE IF EXISTS \"$FUZZ_DB\"" >/dev/null 2>&1 || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

export DJANGO_SETTINGS_MODULE=truestack.settings.local
export DEBUG=false
export DATA_DIR="$WORK/data"
export PUBLIC_BASE_URL="$BASE"
export ALLOWED_HOSTS="127.0.0.1,localhost"
export SANDBOX_ENABLED=true
export API_RATE_LIMIT_PER_MINUTE=100000
export MAX_OPEN_SESSIONS=100000
export EVENTS_REDELIVER_RATE_LIMIT_PER_MINUTE=100000
# The test send (POST /api/v1/events/test) calls whatever URL the fuzzer makes up: keep each try short.
export WEBHOOK_CONNECT_TIMEOUT=1
export WEBHOOK_READ_TIMEOUT=1
export LOG_LEVEL=ERROR
# The server's cache and broker stay in-process / in DATA_DIR: nothing of this
# run lands in the Redis database the test suite uses.
unset REDIS_URL

if [ -n "${DATABASE_URL:-}" ]; then
  FUZZ_DB_URL="$($PY - <<'PYEOF'
import os
from urllib.parse import urlsplit, urlunsplit
parts = urlsplit(os.environ["DATABASE_URL"])
print(urlunsplit(parts._replace(path=parts.path.rstrip("/") + "_fuzz")))
PYEOF
)"
  ADMIN_URL="$($PY - <<'PYEOF'
import os
from urllib.parse import urlsplit, urlunsplit
print(urlunsplit(urlsplit(os.environ["DATABASE_URL"])._replace(path="/postgres")))
PYEOF
)"
  FUZZ_DB="$($PY -c 'import sys; from urllib.parse import urlsplit; print(urlsplit(sys.argv[1]).path.lstrip("/"))' "$FUZZ_DB_URL")"
  psql "$ADMIN_URL" -q -c "DROP DATABASE IF EXISTS \"$FUZZ_DB\"" -c "CREATE DATABASE \"$FUZZ_DB\""
  export DATABASE_URL="$FUZZ_DB_URL"
  echo "fuzz: PostgreSQL database $FUZZ_DB"
else
  echo "fuzz: SQLite in $DATA_DIR"
fi

mkdir -p "$DATA_DIR"
$PY manage.py migrate --noinput -v 0
$PY manage.py create_client FUZZ --name "Fuzz" --credits 1000000 >/dev/null
KEY="$($PY manage.py create_api_key FUZZ --environment test --label fuzz | tail -n 1)"
case "$KEY" in ts_test_*) ;; *) echo "fuzz: could not create a test key" >&2; exit 1 ;; esac
# One test-mode event for the events API to list, read and redeliver (an expired sandbox
# session; no worker runs here, so its delivery just stays pending).
$PY manage.py shell -c '
from datetime import timedelta
from django.utils import timezone
from clients.models import ApiKey
from kyc.models import KycSession
from kyc.services import session_expire
key = ApiKey.objects.filter(client__code="FUZZ", environment="test").first()
session = KycSession.objects.create(client=key.client, api_key=key, is_test=True, ref_id="FUZZ_seed_event",
    document_name="Fuzz Seed", document_number="900101015555", webhook_url="https://hooks.example/fuzz",
    expires_at=timezone.now() - timedelta(minutes=1), provider_ref_id="fuzz-seed")
session_expire(session=session)
'

.venv/bin/gunicorn truestack.wsgi -b "127.0.0.1:${PORT}" --workers 1 --threads 8 --timeout 60 \
  --log-level warning --error-logfile "$WORK/server.log" >>"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
  curl -fsS "$BASE/healthz" >/dev/null 2>&1 && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
  sleep 0.2
done
curl -fsS "$BASE/healthz" >/dev/null

CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance"
run() {
  local label="$1"; shift
  echo "fuzz: $label"
  # Run from the throwaway folder: schemathesis keeps a .schemathesis/ cache in its working directory.
  (cd "$WORK" && "$ST" run "$BASE/api/schema/" \
    --checks "$CHECKS" \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "$MAX_EXAMPLES" \
    --seed "$SEED" \
    --generation-database none \
    --workers 1 \
    --request-timeout 30 \
    --no-color \
    "$@")
}

status=0
run "valid test key" -H "Authorization: Bearer $KEY" || status=1
run "bad key" -H "Authorization: Bearer ts_test_not-a-real-key-0000000000000000" || status=1
if [ "$status" -ne 0 ] && [ -s "$WORK/server.log" ]; then
  echo "--- server errors ---" >&2
  grep -v " WARNING " "$WORK/server.log" | tail -n 200 >&2 || true
fi
exit "$status"
