"""Search of accounts, hashtags and posts, for a viewer.

Posts are searched among those the viewer may see only (``selectors.visible_statuses``),
with the database's full-text search: SQLite's FTS5 index (migration ``0002``; accents
folded, each word a prefix), PostgreSQL's ``to_tsvector``/``plainto_tsquery`` with the
``simple`` configuration (no language stemming: posts mix French and English), or a
case-insensitive ``LIKE`` on an SQLite built without FTS5.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from django.db import connection
from django.db.models import Case, IntegerField, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from kindwave.community import selectors
from kindwave.community.models import Account, Status, Tag
from kindwave.community.services.text import normalise_tag

KINDS = ("accounts", "hashtags", "statuses")
MAX_LIMIT = 40
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class SearchResults:
    accounts: list[Account] = field(default_factory=list)
    hashtags: list[Tag] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)


def search(
    viewer: Account | None,
    q: str,
    kinds: Iterable[str] = KINDS,
    *,
    limit: int = 20,
    offset: int = 0,
) -> SearchResults:
    """Accounts (username prefix or display name; discoverable ones, or the exact
    username), hashtags (name prefix) and posts (full text, visible to ``viewer``) for
    ``q``; nothing for a blank query. Blocks either way hide accounts and posts."""
    q = q.strip()[:200]
    wanted = set(kinds) & set(KINDS)
    limit = max(1, min(limit, MAX_LIMIT))
    if not q:
        return SearchResults()
    window = slice(max(offset, 0), max(offset, 0) + limit)
    return SearchResults(
        accounts=list(_accounts(viewer, q)[window]) if "accounts" in wanted else [],
        hashtags=list(_hashtags(q)[window]) if "hashtags" in wanted else [],
        statuses=_statuses(viewer, q, window) if "statuses" in wanted else [],
    )


def _accounts(viewer: Account | None, q: str) -> QuerySet[Account]:
    name = q.removeprefix("@").split("@", 1)[0]
    found = Account.objects.filter(
        Q(username__iexact=name)
        | Q(discoverable=True) & (Q(username__istartswith=name) | Q(display_name__icontains=q))
    )
    if viewer is not None:
        blocking, blocked_by = selectors.blocked_either_way(viewer)
        found = found.exclude(pk__in=blocking).exclude(pk__in=blocked_by)
    exact = Case(
        When(username__iexact=name, then=Value(0)), default=Value(1), output_field=IntegerField()
    )
    return found.order_by(exact, "-followers_count", "username")


def _hashtags(q: str) -> QuerySet[Tag]:
    name = normalise_tag(q.removeprefix("#"))
    return Tag.objects.filter(name__startswith=name).order_by("name")


@cache
def _sqlite_fts(database: str) -> bool:
    # Keyed by the database's name: tests switch to a test database.
    return "community_status_fts" in connection.introspection.table_names()


def _fts5_query(q: str) -> str:
    # Each word quoted (nothing the user types is FTS syntax) and matched as a prefix.
    return " ".join(f'"{word}"*' for word in _WORD.findall(q))


def _matching(q: str) -> QuerySet[Status]:
    statuses = Status.objects.all()
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchVector

        return statuses.annotate(search=SearchVector("text", config="simple")).filter(
            search=SearchQuery(q, config="simple")
        )
    if connection.vendor == "sqlite" and _sqlite_fts(str(connection.settings_dict["NAME"])):
        query = _fts5_query(q)
        if not query:
            return statuses.none()
        return statuses.filter(
            pk__in=RawSQL(
                "SELECT rowid FROM community_status_fts WHERE community_status_fts MATCH %s",
                [query],
            )
        )
    words = _WORD.findall(q) or [q]
    for word in words:
        statuses = statuses.filter(text__icontains=word)
    return statuses


def _statuses(viewer: Account | None, q: str, window: slice) -> list[Status]:
    ids = list(
        selectors.visible_statuses(viewer)
        .filter(reblog_of__isnull=True, pk__in=_matching(q).values("pk"))
        .order_by("-id")
        .values_list("id", flat=True)[window]
    )
    return selectors.load_statuses(viewer, ids)
