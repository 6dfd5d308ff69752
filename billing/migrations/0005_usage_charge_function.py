from django.db import migrations

from truestack.db.functions import postgresql_only

# PostgreSQL only: a completing callback charges the session with one call of this
# function (billing/services.py, _charge_in_one_call) instead of six statements with
# Python between them, so the client's credit account (and the open-session tally the
# caller locked just before) stays locked for one round trip, not six, however busy
# the web process is. It does what session_charge's locked path does, in the same
# order: lock the account, count the month's usage entries (each statement of a
# VOLATILE function sees what committed before it, as the ORM's next statement
# would), write the usage entry, capture the hold, store balance and held.
#
# It writes nothing when the account is missing or when the month's count puts the
# session at another ordinal than the one its price was quoted for
# (p_expected_ordinal; NULL when every ordinal costs the same): it returns no row,
# or with p_strict raises 'truestack: charge refused', which aborts the transaction
# (a caller sending its COMMIT with the call gets a rollback). The locked path then
# prices it. Values of the models' choices are passed in, not
# spelled here. A change to these tables' columns must change this function too
# (tests/billing/test_charge_in_one_call.py runs it on PostgreSQL).
CREATE = """
CREATE OR REPLACE FUNCTION truestack_usage_charge(
    p_client uuid,
    p_session uuid,
    p_price bigint,
    p_tier text,
    p_expected_ordinal integer,
    p_hold_id bigint,
    p_hold_amount bigint,
    p_month_start timestamptz,
    p_month_end timestamptz,
    p_at timestamptz,
    p_description text,
    p_usage text,
    p_captured text,
    p_strict boolean
) RETURNS TABLE (out_entry_id bigint, out_ordinal integer, out_balance bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    v_balance bigint;
    v_held bigint;
    v_ordinal integer;
BEGIN
    SELECT a.balance, a.held INTO v_balance, v_held
        FROM billing_creditaccount a WHERE a.client_id = p_client FOR UPDATE;
    IF NOT FOUND THEN
        IF p_strict THEN
            RAISE EXCEPTION 'truestack: charge refused' USING ERRCODE = 'P0001';
        END IF;
        RETURN;
    END IF;
    SELECT count(*) + 1 INTO v_ordinal FROM billing_ledgerentry e
        WHERE e.client_id = p_client AND e.kind = p_usage
          AND e.created_at >= p_month_start AND e.created_at < p_month_end;
    IF p_expected_ordinal IS NOT NULL AND v_ordinal <> p_expected_ordinal THEN
        IF p_strict THEN
            RAISE EXCEPTION 'truestack: charge refused' USING ERRCODE = 'P0001';
        END IF;
        RETURN;
    END IF;
    v_balance := v_balance - p_price;
    v_held := v_held - p_hold_amount;
    INSERT INTO billing_ledgerentry
        (client_id, kind, amount, balance_after, session_id, tier_name, month_ordinal, description, created_at)
        VALUES (p_client, p_usage, -p_price, v_balance, p_session, p_tier, v_ordinal, p_description, p_at)
        RETURNING id INTO out_entry_id;
    IF p_hold_id IS NOT NULL THEN
        UPDATE billing_hold SET status = p_captured, settled_at = p_at WHERE id = p_hold_id;
    END IF;
    UPDATE billing_creditaccount SET balance = v_balance, held = v_held, updated_at = clock_timestamp()
        WHERE client_id = p_client;
    out_ordinal := v_ordinal;
    out_balance := v_balance;
    RETURN NEXT;
END
$$;
"""
DROP = (
    "DROP FUNCTION IF EXISTS truestack_usage_charge("
    "uuid, uuid, bigint, text, integer, bigint, bigint, timestamptz, timestamptz, timestamptz, text, text, text, boolean);"
)


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_ledger_entry_created_at_given_by_the_writer")]

    operations = [postgresql_only(CREATE, DROP)]
