from django.db import migrations

from truestack.db.functions import postgresql_only

# PostgreSQL only: a webhook attempt claims its delivery with one call of
# truestack_delivery_claim and records its outcome with one call of
# truestack_delivery_finish (webhooks/services.py), instead of about six statements
# with Python between them for each. The client's claim lock and its endpoint-health
# row are then held only while the server runs the call, however busy the worker is.
#
# truestack_delivery_claim does what _claim_statement_by_statement does, in the same
# order: take the client's claim lock (the same advisory key), count the client's
# attempts in flight, and either put the delivery back for later (over the cap) or
# take its lease, mark an earlier attempt that never recorded a result as
# interrupted, and insert the new attempt. Outcome 'claimed', 'deferred' or
# 'skipped' (not ours to send).
#
# truestack_delivery_finish records the attempt's result and the delivery's new
# state (a failure only while the lease is still ours), and, for a success on a
# host that has no alert out, counts it in the endpoint-health row. It reports
# whether it did the health part; when not (no row yet, an alert to clear, a
# failure, any error there), the caller records health the long way, which may
# also email the client. An error in the health part never undoes the attempt.
#
# Values of the models' choices and texts are passed in, not spelled here. A change
# to these tables' columns must change these functions too
# (tests/webhooks/test_delivery_functions.py runs both ways on PostgreSQL).
CREATE = """
CREATE OR REPLACE FUNCTION truestack_delivery_claim(
    p_delivery uuid,
    p_now timestamptz,
    p_lease_until timestamptz,
    p_busy_until timestamptz,
    p_max_in_flight integer,
    p_open_states text[],
    p_lock_key integer,
    p_interrupted text
) RETURNS TABLE (out_outcome text, out_client uuid, out_attempt_id bigint, out_number integer)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_in_flight integer;
BEGIN
    SELECT e.client_id INTO out_client
        FROM webhooks_delivery d JOIN webhooks_event e ON e.id = d.event_id WHERE d.id = p_delivery;
    IF NOT FOUND THEN
        out_outcome := 'skipped';
        RETURN NEXT;
        RETURN;
    END IF;
    PERFORM pg_advisory_xact_lock(p_lock_key, hashtext(out_client::text));
    SELECT count(*) INTO v_in_flight
        FROM webhooks_delivery d JOIN webhooks_event e ON e.id = d.event_id
        WHERE e.client_id = out_client AND d.state = ANY(p_open_states) AND d.locked_until >= p_now;
    IF v_in_flight >= p_max_in_flight THEN
        UPDATE webhooks_delivery SET next_attempt_at = p_busy_until, enqueued_at = NULL, updated_at = p_now
            WHERE id = p_delivery AND state = ANY(p_open_states) AND next_attempt_at <= p_now
              AND (locked_until IS NULL OR locked_until < p_now);
        out_outcome := CASE WHEN FOUND THEN 'deferred' ELSE 'skipped' END;
        RETURN NEXT;
        RETURN;
    END IF;
    UPDATE webhooks_delivery
        SET locked_until = p_lease_until, enqueued_at = NULL, attempt_count = attempt_count + 1,
            last_attempt_at = p_now, updated_at = p_now
        WHERE id = p_delivery AND state = ANY(p_open_states) AND next_attempt_at <= p_now
          AND (locked_until IS NULL OR locked_until < p_now)
        RETURNING attempt_count INTO out_number;
    IF NOT FOUND THEN
        out_outcome := 'skipped';
        RETURN NEXT;
        RETURN;
    END IF;
    IF out_number > 1 THEN
        UPDATE webhooks_attempt SET error = p_interrupted
            WHERE delivery_id = p_delivery AND duration_ms IS NULL AND error = '';
    END IF;
    INSERT INTO webhooks_attempt (delivery_id, number, started_at, duration_ms, status_code, error, response_excerpt)
        VALUES (p_delivery, out_number, p_now, NULL, NULL, '', '')
        RETURNING id INTO out_attempt_id;
    out_outcome := 'claimed';
    RETURN NEXT;
END
$$;

CREATE OR REPLACE FUNCTION truestack_delivery_finish(
    p_delivery uuid,
    p_attempt bigint,
    p_duration_ms integer,
    p_status_code integer,
    p_error text,
    p_excerpt text,
    p_state text,
    p_delivered boolean,
    p_next_attempt_at timestamptz,
    p_lease_until timestamptz,
    p_finished timestamptz,
    p_client uuid,
    p_host text,
    p_hour text,
    p_window text[]
) RETURNS TABLE (out_delivery_updated boolean, out_health_recorded boolean)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE webhooks_attempt
        SET duration_ms = p_duration_ms, status_code = p_status_code, error = p_error, response_excerpt = p_excerpt
        WHERE id = p_attempt;
    UPDATE webhooks_delivery
        SET state = p_state,
            delivered_at = CASE WHEN p_delivered THEN p_finished ELSE delivered_at END,
            next_attempt_at = p_next_attempt_at, locked_until = NULL, last_error = p_error, updated_at = p_finished
        WHERE id = p_delivery AND (p_delivered OR locked_until = p_lease_until);
    out_delivery_updated := FOUND;
    out_health_recorded := false;
    IF p_delivered THEN
        BEGIN
            UPDATE webhooks_endpointhealth h
                SET hourly = COALESCE(
                        (SELECT jsonb_object_agg(k, v) FROM jsonb_each(h.hourly) AS kept(k, v)
                            WHERE k = ANY(p_window) AND k <> p_hour),
                        '{}'::jsonb
                    ) || jsonb_build_object(p_hour, jsonb_build_array(
                        COALESCE((h.hourly -> p_hour ->> 0)::integer, 0) + 1,
                        COALESCE((h.hourly -> p_hour ->> 1)::integer, 0) + 1
                    )),
                    last_attempt_at = p_finished, last_success_at = p_finished,
                    consecutive_failures = 0, first_failure_at = NULL, last_error = ''
                WHERE h.client_id = p_client AND h.host = p_host AND h.alerted_at IS NULL;
            out_health_recorded := FOUND;
        EXCEPTION WHEN OTHERS THEN
            out_health_recorded := false;
        END;
    END IF;
    RETURN NEXT;
END
$$;
"""
DROP = """
DROP FUNCTION IF EXISTS truestack_delivery_claim(uuid, timestamptz, timestamptz, timestamptz, integer, text[], integer, text);
DROP FUNCTION IF EXISTS truestack_delivery_finish(
    uuid, bigint, integer, integer, text, text, text, boolean, timestamptz, timestamptz, timestamptz, uuid, text, text, text[]
);
"""


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0005_delivery_leased_index")]

    operations = [postgresql_only(CREATE, DROP)]
