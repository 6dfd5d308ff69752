"""Django's PostgreSQL backend with a health check that costs no round trip.

With CONN_HEALTH_CHECKS Django sends `SELECT 1` on the first use of a persistent
connection in every request or task: one round trip per request, a third of
everything a GET sends. A connection the server has dropped (restart, failover,
`pg_terminate_backend`, idle timeout) is told apart without it: PostgreSQL sends
the reason and closes the socket, so an idle connection whose socket has anything
to read, or has hung up, is suspect. Only then is Django's `SELECT 1` sent, which
fails and makes Django reconnect. A quiet idle socket is as healthy as `SELECT 1`
could show (a connection black-holed by the network would hang that too).

It can also bind one statement's values on the server (truestack.db.values_bound_on_server)
while every other statement keeps Django's client-side binding."""

import select

from django.db.backends.postgresql import base
from psycopg import pq

_SUSPECT = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP


class DatabaseWrapper(base.DatabaseWrapper):
    # Set by Django's base wrapper (not in its type stubs).
    health_check_enabled: bool
    health_check_done: bool
    # Set by truestack.db.values_bound_on_server for the statements inside it.
    bind_on_server = False

    def create_cursor(self, name=None):
        if name is None and self.bind_on_server:
            # Django's cursor set-up (time zone loader) with psycopg's server-binding
            # cursor in place of the client-side one, for this cursor only.
            connection = self.connection
            factory = connection.cursor_factory
            connection.cursor_factory = base.ServerBindingCursor
            try:
                return super().create_cursor()
            finally:
                connection.cursor_factory = factory
        return super().create_cursor(name)

    def close_if_health_check_failed(self):
        if (
            self.connection is not None
            and self.health_check_enabled
            and not self.health_check_done
            and not self.pool
            and self._idle_and_quiet()
        ):
            self.health_check_done = True
            return
        super().close_if_health_check_failed()

    def _idle_and_quiet(self) -> bool:
        connection = self.connection
        if connection.closed or connection.broken:
            return False
        if connection.pgconn.transaction_status != pq.TransactionStatus.IDLE:
            return False
        poller = select.poll()
        poller.register(connection.pgconn.socket, _SUSPECT)
        return not poller.poll(0)
