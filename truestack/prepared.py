"""ORM reads compiled to SQL once per process.

Django builds and compiles a queryset's SQL again on every call; for the hottest
read of the client API (GET a session) that was about a third of the request's
CPU, for SQL that never changes. `PreparedRead` compiles the queryset once per
database, with placeholder UUIDs where the caller's values go, and afterwards
only runs the SQL and builds the instance (with the fields' own converters, as
the ORM would). Queries still go through Django's cursor, so they are logged,
counted by tests and wrapped in Django's database errors.

Only for a plain read of columns (the model's own, and those of the rows it
follows with `select_related`) whose SQL does not depend on the values (each value
a UUID, or a string or an integer for the names given as `text` or `numbers`,
compared with `=`).

`fields_save` does the same for `instance.save(update_fields=...)`: the UPDATE of
those columns by primary key is compiled once per model, fields and database; and
`row_insert` for `instance.save(force_insert=True)`. Neither sends model signals:
only for models nobody listens to (none of TrueStack's are)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import DatabaseError, connections, models
from django.db.models.expressions import Col
from django.db.models.query import get_related_populators

M = TypeVar("M", bound=models.Model)


@dataclass(frozen=True)
class _Compiled:
    model: Any
    sql: str
    params: tuple[Any, ...]  # constants, or the name of a value to put there
    slots: tuple[int, ...]  # positions in params that take a value
    attnames: tuple[str, ...]
    own: slice  # the model's own columns in a row; related ones follow
    compiler: Any
    converters: dict
    populators: list  # Django's builders of the related rows (hold no per-row state)


class PreparedRead(Generic[M]):
    def __init__(
        self,
        build: Callable[..., models.QuerySet[M]],
        *names: str,
        text: tuple[str, ...] = (),
        numbers: tuple[str, ...] = (),
        using: str = "default",
    ):
        """`build(**{name: value})` returns the queryset; it is called once per
        database with placeholder values. Values are UUIDs, except those named in
        `text` (strings) and in `numbers` (integers)."""
        self._build = build
        self._names = names + text + numbers
        self._text = frozenset(text)
        self._numbers = frozenset(numbers)
        self._using = using
        self._compiled: dict[str, _Compiled] = {}

    def _placeholder(self, n: int, name: str) -> Any:
        if name in self._text:
            return f"\x1fprepared-{n}\x1f"
        if name in self._numbers:
            return -(2**62) - n  # no key or count is ever this
        return uuid.UUID(int=n + 1)

    def _prep(self, name: str, value: Any, connection) -> Any:
        if name in self._text:
            return value
        if name in self._numbers:
            return int(value)
        return models.UUIDField().get_db_prep_value(value, connection)

    def _compile(self, connection) -> _Compiled:
        placeholders = {name: self._placeholder(n, name) for n, name in enumerate(self._names)}
        queryset = self._build(**placeholders)
        compiler = queryset.query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        by_prepped = {self._prep(name, value, connection): name for name, value in placeholders.items()}
        resolved = tuple(by_prepped.get(param, param) if _hashable(param) else param for param in params)
        slots = tuple(n for n, param in enumerate(resolved) if isinstance(param, str) and param in placeholders)
        columns = [expression for expression, _sql, _alias in compiler.select]
        klass_info = compiler.klass_info
        own = slice(klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1)
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
            or compiler.annotation_col_map
            or not all(isinstance(column, Col) for column in columns)
            or not all(column.target.model is queryset.model for column in columns[own])
        ):
            raise ValueError("PreparedRead: each value must appear once, and only columns be read")
        return _Compiled(
            model=queryset.model,
            sql=sql,
            params=resolved,
            slots=slots,
            attnames=tuple(column.target.attname for column in columns[own]),
            own=own,
            compiler=compiler,
            converters=compiler.get_converters(columns),
            # Django 5.2's signature (the type stubs follow a later one).
            populators=get_related_populators(klass_info, compiler.select, connection.alias),  # type: ignore[call-arg]
        )

    def _run(self, values: dict[str, Any], *, first: bool) -> list[M]:
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
            if first:
                row = cursor.fetchone()
                rows = [] if row is None else [row]
            else:
                rows = cursor.fetchall()
        if compiled.converters:
            rows = list(compiled.compiler.apply_converters(rows, compiled.converters))
        instances = []
        for row in rows:
            instance = compiled.model.from_db(connection.alias, list(compiled.attnames), row[compiled.own])
            for populator in compiled.populators:
                populator.populate(row, instance)
            instances.append(instance)
        return instances

    def get(self, **values: Any) -> M | None:
        """The first row for these values as an instance of the queryset's model, or None."""
        found = self._run(values, first=True)
        return found[0] if found else None

    def rows(self, **values: Any) -> list[M]:
        """Every row for these values, in the queryset's order."""
        return self._run(values, first=False)


_UPDATES: dict[tuple, tuple[str, tuple[models.Field, ...]]] = {}


def fields_save(instance: models.Model, fields: Iterable[str], *, using: str = "default") -> None:
    """`instance.save(update_fields=fields)` with the UPDATE compiled once: the same
    values (each field's pre_save, so auto_now fields are stamped, then its database
    form) and the same error when no row was updated."""
    connection = connections[using]
    key = (type(instance), tuple(dict.fromkeys(fields)), connection.alias, connection.vendor)
    compiled = _UPDATES.get(key)
    if compiled is None:
        compiled = _UPDATES[key] = _update_sql(instance._meta, key[1], connection)
    sql, targets = compiled
    params = [field.get_db_prep_save(field.pre_save(instance, False), connection) for field in targets]
    params.append(instance._meta.pk.get_db_prep_value(instance.pk, connection))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount == 0:
            raise DatabaseError("Save with update_fields did not affect any rows.")


_INSERTS: dict[tuple, tuple[str, tuple[models.Field, ...]]] = {}


def row_insert(instance: M, *, using: str = "default") -> M:
    """`instance.save(force_insert=True)` with the INSERT compiled once: every column
    (each field's pre_save, so auto_now_add fields are stamped, then its database
    form); a primary key the database numbers is read back into the instance, which
    is returned."""
    connection = connections[using]
    meta = instance._meta
    numbered = instance.pk is None and meta.pk is not None and meta.pk.db_returning
    key = (type(instance), numbered, connection.alias, connection.vendor)
    compiled = _INSERTS.get(key)
    if compiled is None:
        compiled = _INSERTS[key] = _insert_sql(meta, numbered, connection)
    sql, targets = compiled
    params = [field.get_db_prep_save(field.pre_save(instance, True), connection) for field in targets]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        if numbered:
            row = cursor.fetchone() if connection.features.can_return_columns_from_insert else None
            instance.pk = row[0] if row else cursor.lastrowid
    instance._state.adding = False
    instance._state.db = connection.alias
    return instance


def _insert_sql(meta, numbered: bool, connection) -> tuple[str, tuple[models.Field, ...]]:
    if meta.parents or any(field.generated or field.has_db_default() for field in meta.local_concrete_fields):
        raise ValueError("row_insert: only a model of its own columns, without database defaults")
    targets = tuple(field for field in meta.local_concrete_fields if not (numbered and field.primary_key))
    quote = connection.ops.quote_name
    columns = ", ".join(quote(field.column) for field in targets)
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(targets))})"  # noqa: S608 - names from the model
    if numbered and connection.features.can_return_columns_from_insert:
        sql += f" RETURNING {quote(meta.pk.column)}"
    return sql, targets


def _update_sql(meta, names: tuple[str, ...], connection) -> tuple[str, tuple[models.Field, ...]]:
    targets = tuple(meta.get_field(name) for name in names)
    if not all(isinstance(field, models.Field) and field.concrete for field in targets):
        raise ValueError("fields_save: only the model's own columns")
    quote = connection.ops.quote_name
    columns = ", ".join(f"{quote(field.column)} = %s" for field in targets)
    sql = f"UPDATE {quote(meta.db_table)} SET {columns} WHERE {quote(meta.pk.column)} = %s"  # noqa: S608 - names from the model
    return sql, targets


def _hashable(value) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True
