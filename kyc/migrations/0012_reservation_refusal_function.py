from django.db import migrations

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


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(CREATE)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [("kyc", "0011_callback_parked_state")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
