"""Writing many rows fast: without model instances, in the caller's transaction.

At bulk volume (a bill run writes hundreds of thousands of rows) building model instances
and letting the driver parse one huge statement cost more than the write itself. PostgreSQL
gets ``COPY … FROM STDIN`` (psycopg adapts each Python value); other databases get
multi-row ``INSERT`` statements with each value converted by its field, as the ORM would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from django.db import connections, models, router
from django.db.models.expressions import RawSQL

#: Rows per multi-row INSERT: keeps a statement's parameters far inside SQLite's limit.
INSERT_ROWS = 400
# Values of these field types go to the database as they are.
_AS_IS = frozenset(
    {
        "AutoField",
        "BigAutoField",
        "BigIntegerField",
        "BooleanField",
        "CharField",
        "ForeignKey",
        "IntegerField",
        "PositiveBigIntegerField",
        "PositiveIntegerField",
        "PositiveSmallIntegerField",
        "SlugField",
        "TextField",
    }
)


def insert_rows(
    model: type[models.Model], columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert ``rows`` (Python values for the fields named in ``columns``, in order) into
    ``model``'s table. No signals, no defaults: every column the table needs must be given.
    Runs in the caller's transaction; a constraint violation raises ``IntegrityError``."""
    if not rows:
        return
    connection = connections[router.db_for_write(model)]
    meta = model._meta
    fields = [cast("models.Field[Any, Any]", meta.get_field(name)) for name in columns]
    quote = connection.ops.quote_name
    table = quote(meta.db_table)
    names = ", ".join(quote(item.column) for item in fields)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The driver's own cursor: Django's errors (IntegrityError…) are mapped here.
            # Only quoted identifiers are formatted in.
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
            return
        convert = [i for i, item in enumerate(fields) if item.get_internal_type() not in _AS_IS]
        # Bulk rows repeat their dates and rates: convert each distinct value once.
        converted: list[dict[Any, Any]] = [{} for _field in fields]
        marks = "(" + ", ".join(["%s"] * len(fields)) + ")"
        for begin in range(0, len(rows), INSERT_ROWS):
            chunk = rows[begin : begin + INSERT_ROWS]
            params: list[Any] = []
            for row in chunk:
                values = list(row)
                for index in convert:
                    value, seen = values[index], converted[index]
                    if value not in seen:
                        seen[value] = fields[index].get_db_prep_save(value, connection)
                    values[index] = seen[value]
                params += values
            sql = f"INSERT INTO {table} ({names}) VALUES " + ", ".join([marks] * len(chunk))  # noqa: S608
            cursor.execute(sql, params)


def ids_in(ids: Sequence[int], using: str = "default") -> Any:
    """A value for ``field__in=`` holding many ids. On PostgreSQL the ids travel as one
    array parameter (``IN (SELECT unnest(%s::bigint[]))``): hundreds of placeholders cost
    the ORM and the driver more than the query. Elsewhere, the list itself."""
    if connections[using].vendor == "postgresql":
        return RawSQL("SELECT unnest(%s::bigint[])", (list(ids),))
    return list(ids)
