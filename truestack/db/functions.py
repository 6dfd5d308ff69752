"""TrueStack's PostgreSQL functions: the migration operation that installs them, and
how the code calls them."""

from functools import cache

from django.db import connection, migrations


def postgresql_only(create_sql: str, drop_sql: str) -> migrations.RunPython:
    """A migration operation that runs `create_sql` (and `drop_sql` when unapplied) on
    PostgreSQL only. Elsewhere (SQLite) it does nothing; the code that calls such a
    function does the same work another way there."""

    def create(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(create_sql)

    def drop(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(drop_sql)

    return migrations.RunPython(create, drop, elidable=False)


@cache
def _call_sql(function: str, arity: int) -> str:
    if not function.isidentifier():
        raise ValueError(f"not a function name: {function!r}")
    return f"SELECT * FROM {function}({', '.join(['%s'] * arity)})"  # noqa: S608 - a name checked above


def call_sql(function: str, params: list) -> str:
    """`SELECT * FROM function(%s, …)` with one placeholder per parameter, for a
    statement sent with others (a pipeline)."""
    return _call_sql(function, len(params))


def call(function: str, params: list) -> tuple | None:
    """Call one of TrueStack's database functions; its first row, or None."""
    with connection.cursor() as cursor:
        cursor.execute(call_sql(function, params), params)
        return cursor.fetchone()


def call_row(function: str, params: list) -> tuple:
    """call() for a function that always returns a row."""
    row = call(function, params)
    if row is None:
        raise RuntimeError(f"{function} returned no row")
    return row
