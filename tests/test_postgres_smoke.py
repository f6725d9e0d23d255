"""Proof that the PostgreSQL pass of CI really ran on PostgreSQL (15 or newer).

`make test` with CI=true runs the suite twice: on SQLite, then with DATABASE_URL pointing
at the PostgreSQL server scripts/ci-services.sh starts. Should the URL ever be lost on the
way to Django, the second pass would quietly test SQLite again; this test fails instead.
"""

from __future__ import annotations

import os

import pytest
from django.db import connection

POSTGRES_SCHEMES = ("postgres:", "postgresql:", "postgis:")


@pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(POSTGRES_SCHEMES),
    reason="DATABASE_URL does not point to PostgreSQL (this run uses SQLite)",
)
@pytest.mark.django_db
def test_the_database_is_postgresql_15_or_newer() -> None:
    assert connection.vendor == "postgresql"
    assert connection.pg_version >= 150000, f"PostgreSQL {connection.pg_version} is older than 15"
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_database()")
        (database,) = cursor.fetchone()
    # pytest-django's test database, never the real one (xdist workers add a suffix).
    assert database.startswith("test_kindwave")
