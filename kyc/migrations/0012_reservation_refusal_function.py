from django.db import migrations

from truestack.db.functions import postgresql_only

# PostgreSQL only: the create path sends its reservation statement and COMMIT together
# (kyc/services.py, _reserve_and_commit). When the open-session cap or the credit check
# refuses, the statement calls this function, whose error aborts the transaction, so the
# COMMIT sent with it rolls everything back.
CREATE = """
CREATE OR REPLACE FUNCTION truestack_reservation_refused() RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    RAISE EXCEPTION 'truestack: reservation refused' USING ERRCODE = 'P0001';
END
$$;
"""
DROP = "DROP FUNCTION IF EXISTS truestack_reservation_refused();"


class Migration(migrations.Migration):
    dependencies = [("kyc", "0011_callback_parked_state")]

    operations = [postgresql_only(CREATE, DROP)]
