from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections


@contextmanager
def values_bound_on_server(using: str = DEFAULT_DB_ALIAS):
    """Statements inside send their values as parameters instead of escaped into
    the SQL text (Django's default on PostgreSQL): for a large value, such as a
    provider callback's body, that saves escaping it in Python and PostgreSQL
    parsing it as a literal. Elsewhere (SQLite) nothing changes."""
    connection = connections[using]
    if not hasattr(connection, "bind_on_server"):
        yield
        return
    previous = connection.bind_on_server
    connection.bind_on_server = True
    try:
        yield
    finally:
        connection.bind_on_server = previous
