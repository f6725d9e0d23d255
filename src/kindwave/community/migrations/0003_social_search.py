"""Full-text search of posts on SQLite: an FTS5 index over ``community_status.text`` kept
in step by triggers (accents folded, so ``ecologie`` finds ``écologie``). On PostgreSQL
(and on an SQLite built without FTS5) nothing is created: search uses PostgreSQL's own
full-text functions, or a plain ``icontains``."""

from __future__ import annotations

from django.db import migrations

CREATE = [
    "CREATE VIRTUAL TABLE community_status_fts USING fts5("
    "text, content='community_status', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER community_status_fts_ai AFTER INSERT ON community_status BEGIN "
    "INSERT INTO community_status_fts(rowid, text) VALUES (new.id, new.text); END",
    "CREATE TRIGGER community_status_fts_ad AFTER DELETE ON community_status BEGIN "
    "INSERT INTO community_status_fts(community_status_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); END",
    "CREATE TRIGGER community_status_fts_au AFTER UPDATE OF text ON community_status BEGIN "
    "INSERT INTO community_status_fts(community_status_fts, rowid, text) "
    "VALUES ('delete', old.id, old.text); "
    "INSERT INTO community_status_fts(rowid, text) VALUES (new.id, new.text); END",
    "INSERT INTO community_status_fts(community_status_fts) VALUES ('rebuild')",
]
DROP = [
    "DROP TRIGGER IF EXISTS community_status_fts_au",
    "DROP TRIGGER IF EXISTS community_status_fts_ad",
    "DROP TRIGGER IF EXISTS community_status_fts_ai",
    "DROP TABLE IF EXISTS community_status_fts",
]


def _has_fts5(schema_editor) -> bool:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor != "sqlite":
        return False
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT sqlite_compileoption_used('ENABLE_FTS5')")
        return bool(cursor.fetchone()[0])


def create(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if _has_fts5(schema_editor):
        for statement in CREATE:
            schema_editor.execute(statement)


def drop(apps, schema_editor) -> None:  # type: ignore[no-untyped-def]
    if schema_editor.connection.vendor == "sqlite":
        for statement in DROP:
            schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("community", "0002_projects_donations")]

    operations = [migrations.RunPython(create, drop)]
