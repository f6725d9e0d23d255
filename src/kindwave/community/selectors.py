"""Reads of the community, and the one place that decides who may see a post.

Every page and API endpoint fetches posts through :func:`visible_statuses` (or a timeline
built on it): a post the viewer may not see is a 404 exactly like one that does not exist.

* public and unlisted: everyone, except when the author and the viewer block each other;
* followers-only (``private``): the author, their followers and the accounts it mentions;
* mentioned-only (``direct``): the author and the accounts it mentions;
* deleted: no one.

Timelines return lists of ``Status`` with everything a page or the API needs loaded
(authors, the reblogged post and its author, media, tags, mentions, and for a viewer
``viewer_favourited`` / ``viewer_reblogged`` on each post and its reblog), in a fixed
number of queries whatever the number of posts. Pagination follows Mastodon: ``max_id`` is
an exclusive upper bound, ``since_id`` an exclusive lower bound (newest first), ``min_id``
an exclusive lower bound taken oldest first then returned newest first.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.http import Http404

from kindwave.community.models import (
    Account,
    Block,
    Favourite,
    Follow,
    MediaAttachment,
    Mute,
    Notification,
    ProjectFollow,
    Status,
    Tag,
    Visibility,
)
from kindwave.community.services import timelines
from kindwave.community.services.text import normalise_tag

DEFAULT_LIMIT = 20
MAX_LIMIT = 40
MAX_NOTIFICATIONS_LIMIT = 80

_OPEN = (Visibility.PUBLIC, Visibility.UNLISTED)


def blocked_either_way(viewer: Account) -> tuple[QuerySet[Block, Any], QuerySet[Block, Any]]:
    """(the ids the viewer blocks, the ids blocking the viewer) as subqueries."""
    return (
        Block.objects.filter(account=viewer).values("target_id"),
        Block.objects.filter(target=viewer).values("account_id"),
    )


def visible_statuses(viewer: Account | None) -> QuerySet[Status]:
    """Every post ``viewer`` (``None``: an anonymous visitor) may see, reblogs included."""
    statuses = Status.objects.filter(deleted_at__isnull=True)
    if viewer is None:
        return statuses.filter(visibility__in=_OPEN)
    blocking, blocked_by = blocked_either_way(viewer)
    mentioned = Exists(
        Status.mentions.through.objects.filter(status_id=OuterRef("pk"), account_id=viewer.pk)
    )
    following = Exists(Follow.objects.filter(account=viewer, target_id=OuterRef("account_id")))
    return statuses.filter(
        Q(account=viewer)
        | Q(visibility__in=_OPEN)
        | Q(visibility=Visibility.PRIVATE) & (following | mentioned)
        | Q(visibility=Visibility.DIRECT) & mentioned
    ).exclude(
        Q(account_id__in=blocking)
        | Q(account_id__in=blocked_by)
        | Q(reblog_of__account_id__in=blocking)
        | Q(reblog_of__account_id__in=blocked_by)
    )


def can_see(viewer: Account | None, status: Status) -> bool:
    """Whether ``viewer`` may see ``status`` (the rule of :func:`visible_statuses`)."""
    return visible_statuses(viewer).filter(pk=status.pk).exists()


def get_status_for(viewer: Account | None, status_id: int) -> Status:
    """The post ``status_id`` if ``viewer`` may see it, loaded like a timeline's posts;
    ``Http404`` otherwise, as for a post that does not exist."""
    statuses = _load(viewer, list(visible_statuses(viewer).filter(pk=status_id)))
    if not statuses:
        raise Http404
    return statuses[0]


def _ids_page(
    ids: QuerySet[Any, Any],
    field: str,
    *,
    max_id: int | None,
    since_id: int | None,
    min_id: int | None,
    limit: int,
    most: int = MAX_LIMIT,
) -> list[int]:
    """One page of the values of ``field`` (an increasing id) in ``ids``, newest first."""
    limit = max(1, min(limit, most))
    if max_id is not None:
        ids = ids.filter(**{f"{field}__lt": max_id})
    if since_id is not None:
        ids = ids.filter(**{f"{field}__gt": since_id})
    if min_id is not None:
        ids = ids.filter(**{f"{field}__gt": min_id})
        return sorted(ids.order_by(field).values_list(field, flat=True)[:limit], reverse=True)
    return list(ids.order_by(f"-{field}").values_list(field, flat=True)[:limit])


def _loaded(statuses: Iterable[Status]) -> list[Status]:
    """``statuses`` with everything a page shows loaded, as ``select_related`` and
    ``prefetch_related`` would leave them: the posts they reblog, the authors and the
    accounts replied to, the donate buttons' cause and project, media, tags and mentions.

    Three queries for a page of plain posts (the posts, which of them have media, tags or
    mentions, the accounts), one more for the reblogged posts, for tags and for media when
    the page has some. Django building an eight-table join and six prefetches cost several
    times what the queries themselves cost."""
    page = list(statuses)
    shown = {s.pk: s for s in page}
    reblogged_ids = {s.reblog_of_id for s in page if s.reblog_of_id is not None} - shown.keys()
    if reblogged_ids:
        shown |= _with_buttons(Status.objects.filter(pk__in=reblogged_ids)).in_bulk()
    everything = list(shown.values())
    media_ids, tag_ids, mention_ids = _attached(list(shown))
    accounts = Account.objects.in_bulk(
        {s.account_id for s in everything}
        | {s.in_reply_to_account_id for s in everything if s.in_reply_to_account_id is not None}
        | {pk for pks in mention_ids.values() for pk in pks}
    )
    tags = Tag.objects.in_bulk({pk for pks in tag_ids.values() for pk in pks}) if tag_ids else {}
    media = (
        MediaAttachment.objects.in_bulk({pk for pks in media_ids.values() for pk in pks})
        if media_ids
        else {}
    )
    for status in everything:
        _cache(status, "account", accounts[status.account_id])
        _cache(status, "reblog_of", _get(shown, status.reblog_of_id))
        _cache(status, "in_reply_to_account", _get(accounts, status.in_reply_to_account_id))
        # Each list in its model's order; media in upload order, as Mastodon shows them.
        own_media = [media[pk] for pk in media_ids.get(status.pk, ())]
        own_tags = [tags[pk] for pk in tag_ids.get(status.pk, ())]
        own_mentions = [accounts[pk] for pk in mention_ids.get(status.pk, ())]
        _prefetched(status, "media", sorted(own_media, key=lambda m: m.pk))
        _prefetched(status, "tags", sorted(own_tags, key=lambda t: t.name))
        _prefetched(status, "mentions", sorted(own_mentions, key=lambda a: a.username))
    return page


def _with_buttons(statuses: QuerySet[Status]) -> QuerySet[Status]:
    """``statuses`` with their donate buttons' cause and project (two short joins)."""
    return statuses.select_related("donate_cause", "donate_project")


def _attached(status_ids: list[int]) -> tuple[dict[int, list[int]], ...]:
    """(media ids, tag ids, mentioned account ids) of those of ``status_ids`` that have
    any, in one query over the three tables that link them."""
    found: tuple[dict[int, list[int]], ...] = ({}, {}, {})
    if not status_ids:
        return found
    marks = ", ".join(["%s"] * len(status_ids))
    links = [
        (MediaAttachment._meta.db_table, "id"),
        (Status.tags.through._meta.db_table, "tag_id"),
        (Status.mentions.through._meta.db_table, "account_id"),
    ]
    sql = " UNION ALL ".join(
        f"SELECT {kind}, status_id, {column} FROM {table} "  # noqa: S608 - our own tables
        f"WHERE status_id IN ({marks})"
        for kind, (table, column) in enumerate(links)
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, status_ids * len(links))
        for kind, status_id, pk in cursor.fetchall():
            found[kind].setdefault(status_id, []).append(pk)
    return found


def _get(found: dict[int, Any], pk: int | None) -> Any:
    return None if pk is None else found.get(pk)


def _cache(status: Status, name: str, value: Any) -> None:
    """Set the related object ``name`` of ``status`` as ``select_related`` does."""
    Status._meta.get_field(name).set_cached_value(status, value)  # type: ignore[union-attr]


def _prefetched(status: Status, name: str, objects: list[Any]) -> None:
    """Set the many-related ``name`` of ``status`` as ``prefetch_related`` does: its
    ``.all()`` reads ``objects`` without a query."""
    if not hasattr(status, "_prefetched_objects_cache"):
        status._prefetched_objects_cache = {}  # type: ignore[attr-defined]
    status._prefetched_objects_cache[name] = _LoadedRelation(status, name, objects)  # type: ignore[attr-defined]


_RELATED_MODELS: dict[str, type[Any]] = {
    "media": MediaAttachment,
    "tags": Tag,
    "mentions": Account,
}


class _LoadedRelation(QuerySet[Any, Any]):
    """A relation's objects, loaded. Reading them costs nothing; whatever needs SQL (a
    further ``filter()``, ``update()``, ``iterator()``…) runs on the relation's own
    queryset, built only then: building it for each relation of each post (what
    ``prefetch_related`` does) cost half of a page's loading."""

    def __init__(self, status: Status, name: str, objects: list[Any]) -> None:
        super().__init__(model=_RELATED_MODELS[name])
        self._status, self._name = status, name
        self._relation: QuerySet[Any, Any] | None = None
        self._result_cache = objects
        self._prefetch_done = True

    def _real(self) -> QuerySet[Any, Any]:
        if self._relation is None:
            manager = getattr(self._status, self._name)
            # The manager would hand this object back: ask past the cache.
            cache = self._status._prefetched_objects_cache  # type: ignore[attr-defined]
            del cache[self._name]
            try:
                self._relation = manager.get_queryset()
            finally:
                cache[self._name] = self
        return self._relation

    @property
    def query(self) -> Any:
        return self._real().query

    @query.setter
    def query(self, value: Any) -> None:  # pragma: no cover - never set on a loaded relation
        raise AttributeError("a loaded relation's query is its relation's")

    def _clone(self) -> QuerySet[Any, Any]:
        return self._real()._clone()  # type: ignore[attr-defined]

    def _chain(self) -> QuerySet[Any, Any]:
        return self._real()._chain()  # type: ignore[attr-defined]


def _load(viewer: Account | None, statuses: Iterable[Status]) -> list[Status]:
    """Mark the viewer's favourites and reblogs on ``statuses`` and their reblogged posts
    (two queries)."""
    statuses = list(statuses)
    shown = {s.pk for s in statuses} | {s.reblog_of_id for s in statuses if s.reblog_of_id}
    favourited: set[int] = set()
    reblogged: set[int] = set()
    if viewer is not None and shown:
        favourited = set(
            Favourite.objects.filter(account=viewer, status_id__in=shown).values_list(
                "status_id", flat=True
            )
        )
        reblogged = {
            pk
            for pk in Status.objects.filter(
                account=viewer, reblog_of_id__in=shown, deleted_at__isnull=True
            ).values_list("reblog_of_id", flat=True)
            if pk is not None
        }
    for status in statuses:
        for shown_status in (status, status.reblog_of):
            if shown_status is not None:
                shown_status.viewer_favourited = shown_status.pk in favourited  # type: ignore[attr-defined]
                shown_status.viewer_reblogged = shown_status.pk in reblogged  # type: ignore[attr-defined]
    return statuses


def load_statuses(viewer: Account | None, ids: list[int]) -> list[Status]:
    """The posts ``ids`` in that order, loaded like a timeline's (no visibility check:
    ``ids`` must come from :func:`visible_statuses`)."""
    if not ids:
        return []
    by_id = _with_buttons(Status.objects.filter(pk__in=ids)).in_bulk()
    return _load(viewer, _loaded(by_id[pk] for pk in ids if pk in by_id))


def _page(
    viewer: Account | None,
    statuses: QuerySet[Status],
    *,
    max_id: int | None,
    since_id: int | None,
    min_id: int | None,
    limit: int,
) -> list[Status]:
    ids = _ids_page(statuses, "id", max_id=max_id, since_id=since_id, min_id=min_id, limit=limit)
    return load_statuses(viewer, ids)


def _muted(account: Account) -> QuerySet[Mute, Any]:
    return Mute.objects.filter(account=account).values("target_id")


def home_deliveries(account: Account) -> QuerySet[Status]:
    """What the fan-out on write delivers to ``account``'s home, computed from the posts:
    its own posts, those of the accounts it follows, the mentioned-only posts that mention
    it, the updates of the projects it follows — as far as ``account`` may see them. Mutes
    are not applied (they are applied when a home is read), so a home rebuilt from this
    shows a muted account's posts again once unmuted, as a fanned-out one does."""
    following = Follow.objects.filter(account=account).values("target_id")
    projects = ProjectFollow.objects.filter(account=account).values("project_id")
    mentioning = Status.mentions.through.objects.filter(account_id=account.pk).values("status_id")
    project_update = Q(
        donate_project_id__in=projects, reblog_of__isnull=True, visibility__in=_OPEN
    ) & (
        Q(account_id=F("donate_project__owner_id"))
        | Q(account__cause_id=F("donate_project__cause_id"))
    )
    return visible_statuses(account).filter(
        Q(account=account)
        | Q(account_id__in=following) & ~Q(visibility=Visibility.DIRECT)
        | Q(visibility=Visibility.DIRECT, pk__in=mentioning)
        | project_update
    )


def home_on_read(account: Account) -> QuerySet[Status]:
    """``account``'s home computed when read (fan-out on read): :func:`home_deliveries`
    without the accounts it mutes. Serves the pages past the kept entries of a home."""
    muted = _muted(account)
    return (
        home_deliveries(account)
        .exclude(account_id__in=muted)
        .exclude(reblog_of__account_id__in=muted)
    )


def home(
    account: Account,
    *,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Status]:
    """``account``'s home timeline: its own posts and those of the accounts it follows
    (fanned out on write into the configured store, the database or Redis), newest first,
    without the accounts it mutes. A page reaching below the oldest kept entry of a
    home is completed by :func:`home_on_read`, so capping a home loses nothing."""
    limit = max(1, min(limit, MAX_LIMIT))
    store = timelines.store()
    ids = store.page(account, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit)
    # A full page newest first never needs older posts; oldest first (min_id) it does
    # when min_id lies below the kept entries.
    if min_id is not None or len(ids) < limit:
        floor = store.floor(account)
        lower = max(x for x in (since_id, min_id, 0) if x is not None)
        if floor is not None and lower < floor - 1:
            older = _ids_page(
                home_on_read(account),
                "id",
                max_id=floor if max_id is None else min(max_id, floor),
                since_id=since_id,
                min_id=min_id,
                limit=limit,
            )
            merged = sorted({*ids, *older}, reverse=True)
            ids = merged[-limit:] if min_id is not None else merged[:limit]
    return load_statuses(account, ids)


def _public_posts(viewer: Account | None) -> QuerySet[Status]:
    """Public posts, not reblogs, the viewer may see, without those of accounts they mute."""
    statuses = visible_statuses(viewer).filter(visibility=Visibility.PUBLIC, reblog_of__isnull=True)
    if viewer is not None:
        statuses = statuses.exclude(account_id__in=_muted(viewer))
    return statuses


def public(
    viewer: Account | None,
    *,
    local: bool = True,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Status]:
    """Public posts (not reblogs) the viewer may see, newest first. Every account is local
    here, so ``local`` changes nothing; it is accepted for the API's sake."""
    statuses = _public_posts(viewer)
    return _page(viewer, statuses, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit)


def hashtag(
    viewer: Account | None,
    tag: str,
    *,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Status]:
    """Public posts tagged ``tag`` (any case, with or without ``#``), newest first."""
    statuses = _public_posts(viewer).filter(tags__name=normalise_tag(tag.removeprefix("#")))
    return _page(viewer, statuses, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit)


def account_statuses(
    viewer: Account | None,
    target: Account,
    *,
    exclude_replies: bool = False,
    exclude_reblogs: bool = False,
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Status]:
    """``target``'s posts and reblogs that ``viewer`` may see, newest first."""
    statuses = visible_statuses(viewer).filter(account=target)
    if exclude_replies:
        statuses = statuses.filter(in_reply_to__isnull=True)
    if exclude_reblogs:
        statuses = statuses.filter(reblog_of__isnull=True)
    return _page(viewer, statuses, max_id=max_id, since_id=since_id, min_id=min_id, limit=limit)


@dataclass(frozen=True)
class Context:
    ancestors: list[Status]
    descendants: list[Status]


def context(viewer: Account | None, status: Status) -> Context:
    """The thread around ``status``: the posts it replies to (oldest first) and the replies
    under it (depth first, in order), those the viewer may see only: a reply the viewer may
    not see is left out with everything under it. Fixed query count."""
    root_id = status.conversation_root_id or status.pk
    thread = load_statuses(
        viewer,
        list(
            visible_statuses(viewer)
            .filter(Q(pk=root_id) | Q(conversation_root_id=root_id))
            .order_by("id")
            .values_list("id", flat=True)
        ),
    )
    by_id = {s.pk: s for s in thread}
    ancestors: list[Status] = []
    parent_id = status.in_reply_to_id
    # A parent the viewer may not see ends the chain: what is above it stays hidden too.
    while parent_id is not None and parent_id in by_id:
        parent = by_id[parent_id]
        ancestors.append(parent)
        parent_id = parent.in_reply_to_id
    ancestors.reverse()
    children: dict[int, list[Status]] = {}
    for item in thread:
        if item.in_reply_to_id is not None:
            children.setdefault(item.in_reply_to_id, []).append(item)
    descendants: list[Status] = []
    stack = list(reversed(children.get(status.pk, [])))
    while stack:
        item = stack.pop()
        descendants.append(item)
        stack.extend(reversed(children.get(item.pk, [])))
    return Context(ancestors=ancestors, descendants=descendants)


def notifications(
    account: Account,
    *,
    types: Iterable[str] = (),
    exclude_types: Iterable[str] = (),
    max_id: int | None = None,
    since_id: int | None = None,
    min_id: int | None = None,
    limit: int = DEFAULT_LIMIT,
) -> list[Notification]:
    """``account``'s notifications, newest first, without those from accounts it mutes or
    blocks, nor about posts it may no longer see; each with its sender and post loaded."""
    blocking, blocked_by = blocked_either_way(account)
    found = Notification.objects.filter(account=account).exclude(
        Q(from_account_id__in=_muted(account))
        | Q(from_account_id__in=blocking)
        | Q(from_account_id__in=blocked_by)
        | Q(status__deleted_at__isnull=False)
    )
    if types := list(types):
        found = found.filter(kind__in=types)
    if exclude_types := list(exclude_types):
        found = found.exclude(kind__in=exclude_types)
    ids = _ids_page(
        found,
        "id",
        max_id=max_id,
        since_id=since_id,
        min_id=min_id,
        limit=limit,
        most=MAX_NOTIFICATIONS_LIMIT,
    )
    if not ids:
        return []
    by_id = {
        n.pk: n for n in Notification.objects.filter(pk__in=ids).select_related("from_account")
    }
    statuses = {
        s.pk: s
        for s in load_statuses(account, [n.status_id for n in by_id.values() if n.status_id])
    }
    found_list = [by_id[pk] for pk in ids]
    for notification in found_list:
        if notification.status_id is not None:
            notification.status = statuses[notification.status_id]
    return found_list
