"""TrueStack's PostgreSQL functions are installed by migrations; this is the
operation they use."""

from django.db import migrations


def postgresql_only(create_sql: str, drop_sql: str) -> migrations.RunPython:
    """A migration operation that runs `create_sql` (and `drop_sql` when unapplied) on
    PostgreSQL only. Elsewhere (SQLite) it does nothing and the code runs the same
    steps statement by statement."""

    def create(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create_sql)

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop_sql)

    return migrations.RunPython(create, drop, elidable=False)
