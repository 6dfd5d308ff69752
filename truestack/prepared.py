"""ORM reads compiled to SQL once per process.

Django builds and compiles a queryset's SQL again on every call; for the hottest
read of the client API (GET a session) that was about a third of the request's
CPU, for SQL that never changes. `PreparedRead` compiles the queryset once per
database, with placeholder UUIDs where the caller's values go, and afterwards
only runs the SQL and builds the instance (with the fields' own converters, as
the ORM would). Queries still go through Django's cursor, so they are logged,
counted by tests and wrapped in Django's database errors.

Only for a plain read of one model's own columns whose SQL does not depend on the
values (each value a UUID, or a string for the names given as `text`, compared
with `=`)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections, models
from django.db.models.expressions import Col

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class _Compiled:
    model: Any
    sql: str
    params: tuple[Any, ...]  # constants, or the name of a value to put there
    slots: tuple[int, ...]  # positions in params that take a value
    attnames: tuple[str, ...]
    compiler: Any
    converters: dict


class PreparedRead(Generic[M]):
    def __init__(
        self,
        build: Callable[..., models.QuerySet[M]],
        *names: str,
        text: tuple[str, ...] = (),
        using: str = "default",
    ):
        """`build(**{name: value})` returns the queryset; it is called once per
        database with placeholder values. Values are UUIDs, except those named in
        `text` (strings)."""
        self._build = build
        self._names = names + text
        self._text = frozenset(text)
        self._using = using
        self._compiled: dict[str, _Compiled] = {}

    def _placeholder(self, n: int, name: str) -> Any:
        return f"\x1fprepared-{n}\x1f" if name in self._text else uuid.UUID(int=n + 1)

    def _prep(self, name: str, value: Any, connection) -> Any:
        return value if name in self._text else models.UUIDField().get_db_prep_value(value, connection)

    def _compile(self, connection) -> _Compiled:
        placeholders = {name: self._placeholder(n, name) for n, name in enumerate(self._names)}
        queryset = self._build(**placeholders)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        by_prepped = {self._prep(name, value, connection): name for name, value in placeholders.items()}
        resolved = tuple(by_prepped.get(param, param) if _hashable(param) else param for param in params)
        slots = tuple(n for n, param in enumerate(resolved) if isinstance(param, str) and param in placeholders)
        columns = [expression for expression, _sql, _alias in compiler.select]
        # A placeholder the field turned into something else (a text column's str()) would
        # stay in the SQL as a constant: refuse rather than read the wrong rows.
        spellings = {
            form
            for value in placeholders.values()
            for form in ((str(value), value.hex) if isinstance(value, uuid.UUID) else (value,))
        }
        leftover = any(str(param) in spellings for n, param in enumerate(resolved) if n not in slots)
        if (
            leftover
            or sorted(resolved[n] for n in slots) != sorted(self._names)
            or not all(isinstance(column, Col) and column.target.model is queryset.model for column in columns)
        ):
            raise ValueError("PreparedRead: each value must appear once, and only the model's own columns be read")
        return _Compiled(
            model=queryset.model,
            sql=sql,
            params=resolved,
            slots=slots,
            attnames=tuple(column.target.attname for column in columns),
            compiler=compiler,
            converters=compiler.get_converters(columns),
        )

    def get(self, **values: Any) -> M | None:
        """The first row for these values as an instance of the queryset's model, or None."""
        connection = connections[self._using]
        key = f"{connection.alias}:{connection.vendor}"
        compiled = self._compiled.get(key)
        if compiled is None:
            compiled = self._compiled[key] = self._compile(connection)
        params = list(compiled.params)
        for n in compiled.slots:
            params[n] = self._prep(params[n], values[params[n]], connection)
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            row = cursor.fetchone()
        if row is None:
            return None
        if compiled.converters:
            row = next(iter(compiled.compiler.apply_converters([row], compiled.converters)))
        return compiled.model.from_db(connection.alias, list(compiled.attnames), row)


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
