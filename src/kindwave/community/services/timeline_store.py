"""Where home timelines are kept: in the database (``TimelineEntry`` rows, the default) or,
with ``KINDWAVE_REDIS_URL`` set, in Redis (a sorted set per account, as Mastodon does).

:mod:`kindwave.community.services.timelines` decides who receives a post (a
:class:`Delivery`); a :class:`TimelineStore` writes it and reads pages back. Both stores
give the same pages: ``tests/community/test_redis_store.py`` runs the database store's
behaviour checks against a real redis-server.

In Redis a home is ``kindwave:home:<account_id>``, member and score the status id, plus a
marker member ``0`` (score 0) that says "this home was built": a home without its key
(a new account, a flushed or lost Redis, a home dropped after an unfollow or a block) is
rebuilt from the posts on its next read (:func:`kindwave.community.selectors.home_deliveries`),
and deliveries skip it until then, so a half-built home is never read as whole. Redis is
never the only copy of anything: the posts are.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, cast

import redis
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Min, Q

from kindwave.community.models import Account, Block, Mute, TimelineEntry

_ENTRY = TimelineEntry._meta.db_table
_BLOCK = Block._meta.db_table


@dataclass(frozen=True)
class Delivery:
    """Who receives ``status_id`` in their home: the accounts ``direct`` (its author, the
    accounts a mentioned-only post mentions), and the ``account_id`` of the rows of each
    ``(table, column, value)`` of ``sources`` (an account's followers, a project's
    followers) — except, in both, anyone who blocks or is blocked by one of ``authors``
    (the author, and the reblogged post's author)."""

    status_id: int
    authors: tuple[int, ...]
    direct: frozenset[int] = frozenset()
    sources: tuple[tuple[str, str, int], ...] = field(default=())

    def _source_sql(self, table: str, column: str) -> str:
        marks = ", ".join(["%s"] * len(self.authors))
        return (
            f"FROM {table} f WHERE f.{column} = %s "  # noqa: S608 - names are ours
            f"AND NOT EXISTS (SELECT 1 FROM {_BLOCK} b WHERE "
            f"(b.account_id = f.account_id AND b.target_id IN ({marks})) "
            f"OR (b.target_id = f.account_id AND b.account_id IN ({marks})))"
        )

    def direct_unblocked(self) -> set[int]:
        """The accounts of ``direct`` that no block separates from the authors."""
        if not self.direct:
            return set()
        blocked = set(
            Block.objects.filter(
                account_id__in=self.direct, target_id__in=self.authors
            ).values_list("account_id", flat=True)
        ) | set(
            Block.objects.filter(
                account_id__in=self.authors, target_id__in=self.direct
            ).values_list("target_id", flat=True)
        )
        return set(self.direct) - blocked

    def receivers(self) -> set[int]:
        """Every receiving account id, computed in SQL (one ``SELECT`` per source)."""
        found = self.direct_unblocked()
        with connection.cursor() as cursor:
            for table, column, value in self.sources:
                cursor.execute(
                    f"SELECT f.account_id {self._source_sql(table, column)}",
                    [value, *self.authors, *self.authors],
                )
                found.update(row[0] for row in cursor.fetchall())
        return found


class TimelineStore(Protocol):
    """What fan-out and the home timeline need from a store."""

    def deliver(self, delivery: Delivery) -> None:
        """Put the post into every receiver's home (in the posting transaction, or once
        it commits)."""

    def withdraw(self, delivery: Delivery) -> None:
        """Take the post out of every home (delete)."""

    def backfill(self, account: Account, visible: Sequence[int]) -> None:
        """Put ``visible`` into ``account``'s home (a new follow)."""

    def withdraw_account(self, account: Account, target: Account, *, reblogs_of_too: bool) -> None:
        """Take ``target``'s posts (and others' reblogs of them) out of ``account``'s home."""

    def page(
        self,
        account: Account,
        *,
        max_id: int | None,
        since_id: int | None,
        min_id: int | None,
        limit: int,
    ) -> list[int]:
        """One page of the kept home's status ids, newest first, without muted accounts."""

    def floor(self, account: Account) -> int | None:
        """The oldest kept post of a home that holds any, else ``None``: a page that runs
        past it continues from the posts. (Not only for a full home: a delete lowers a full
        home under the cap while older posts were trimmed, and they must stay reachable.)"""


class DatabaseStore:
    """Homes as ``TimelineEntry`` rows, written in the posting transaction; followers' rows
    by one ``INSERT … SELECT … ON CONFLICT DO NOTHING`` (no rows travel through Python)."""

    def deliver(self, delivery: Delivery) -> None:
        TimelineEntry.objects.bulk_create(
            [
                TimelineEntry(account_id=pk, status_id=delivery.status_id)
                for pk in delivery.direct_unblocked()
            ],
            ignore_conflicts=True,
        )
        with connection.cursor() as cursor:
            for table, column, value in delivery.sources:
                cursor.execute(
                    f"INSERT INTO {_ENTRY} (account_id, status_id) "
                    f"SELECT f.account_id, %s {delivery._source_sql(table, column)} "
                    "ON CONFLICT DO NOTHING",
                    [delivery.status_id, value, *delivery.authors, *delivery.authors],
                )

    def withdraw(self, delivery: Delivery) -> None:
        TimelineEntry.objects.filter(status_id=delivery.status_id).delete()

    def backfill(self, account: Account, visible: Sequence[int]) -> None:
        TimelineEntry.objects.bulk_create(
            [TimelineEntry(account=account, status_id=pk) for pk in visible],
            ignore_conflicts=True,
        )

    def withdraw_account(self, account: Account, target: Account, *, reblogs_of_too: bool) -> None:
        gone = Q(status__account=target)
        if reblogs_of_too:
            gone |= Q(status__reblog_of__account=target)
        TimelineEntry.objects.filter(gone, account=account).delete()

    def page(
        self,
        account: Account,
        *,
        max_id: int | None,
        since_id: int | None,
        min_id: int | None,
        limit: int,
    ) -> list[int]:
        muted = Mute.objects.filter(account=account).values("target_id")
        entries = (
            TimelineEntry.objects.filter(account=account)
            .exclude(status__account_id__in=muted)
            .exclude(status__reblog_of__account_id__in=muted)
        )
        if max_id is not None:
            entries = entries.filter(status_id__lt=max_id)
        for lower in (since_id, min_id):
            if lower is not None:
                entries = entries.filter(status_id__gt=lower)
        if min_id is not None:
            oldest = entries.order_by("status_id").values_list("status_id", flat=True)[:limit]
            return sorted(oldest, reverse=True)
        return list(entries.order_by("-status_id").values_list("status_id", flat=True)[:limit])

    def floor(self, account: Account) -> int | None:
        kept = TimelineEntry.objects.filter(account=account).aggregate(
            oldest=Min("status_id"), count=Count("id")
        )
        return kept["oldest"] if kept["count"] else None


#: The member that marks a built home (its score, 0, is below every status id).
BUILT = 0

# Add ARGV[2:] to each home of KEYS that was built, keeping its marker and its newest
# ARGV[1] posts: one command for a batch of homes, however many posts.
_ADD_IF_BUILT = """
local cap = tonumber(ARGV[1])
local added = 0
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then
    for i = 2, #ARGV do redis.call('ZADD', key, ARGV[i], ARGV[i]) end
    redis.call('ZREMRANGEBYRANK', key, 1, -(cap + 1))
    added = added + 1
  end
end
return added
"""
#: Homes written by one call of the script.
BATCH = 1_000
#: How long a home being built may take before its key expires and the next read builds
#: it again.
BUILD_SECONDS = 120

_clients: dict[str, redis.Redis] = {}


def _client(url: str) -> redis.Redis:
    if url not in _clients:
        _clients[url] = redis.Redis.from_url(url)
    return _clients[url]


def home_key(account_id: int) -> str:
    return f"kindwave:home:{account_id}"


class RedisStore:
    """Homes as Redis sorted sets, written by one pipelined batch once the posting
    transaction commits (nothing reaches Redis from a transaction that rolls back)."""

    def __init__(
        self, url: str, *, cap: Callable[[], int], rebuild: Callable[[Account], list[int]]
    ):
        self.redis = _client(url)
        self._cap = cap
        self._rebuild = rebuild
        self._add = self.redis.register_script(_ADD_IF_BUILT)

    def _add_to(self, account_ids: Iterable[int], status_ids: Sequence[int]) -> None:
        cap = self._cap()
        keys = [home_key(pk) for pk in account_ids]
        with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(keys), BATCH):
                self._add(keys=keys[start : start + BATCH], args=[cap, *status_ids], client=pipe)
            pipe.execute()

    def deliver(self, delivery: Delivery) -> None:
        receivers = delivery.receivers()
        transaction.on_commit(lambda: self._add_to(receivers, [delivery.status_id]), robust=True)

    def withdraw(self, delivery: Delivery) -> None:
        receivers = delivery.receivers()

        def remove() -> None:
            with self.redis.pipeline(transaction=False) as pipe:
                for pk in receivers:
                    pipe.zrem(home_key(pk), delivery.status_id)
                pipe.execute()

        transaction.on_commit(remove, robust=True)

    def backfill(self, account: Account, visible: Sequence[int]) -> None:
        if visible:
            ids = list(visible)
            transaction.on_commit(lambda: self._add_to([account.pk], ids), robust=True)

    def withdraw_account(self, account: Account, target: Account, *, reblogs_of_too: bool) -> None:
        # The simplest correct rule: drop the home, rebuilt from the posts when next read.
        transaction.on_commit(lambda: self.redis.delete(home_key(account.pk)), robust=True)

    def build(self, account: Account) -> None:
        """Rebuild ``account``'s home from the posts: its newest ``cap`` deliveries.

        The marker goes in first, so that a post committed while the posts are read is
        delivered to the home rather than skipped (the two meet in a set: no duplicate);
        a reader at that very moment may see the home still filling. Until the home is
        filled the key expires (``BUILD_SECONDS``): a build cut short — a Redis error, or
        the worker killed — leaves a key that disappears, and the next read builds again,
        rather than a home that looks built and stays empty."""
        key = home_key(account.pk)
        with self.redis.pipeline() as pipe:  # MULTI: the marker never lives without expiry
            pipe.zadd(key, {str(BUILT): BUILT})
            pipe.expire(key, BUILD_SECONDS)
            pipe.execute()
        try:
            ids = self._rebuild(account)
            if ids:
                self._add(keys=[key], args=[self._cap(), *ids])
        except BaseException:
            self.redis.delete(key)
            raise
        self.redis.persist(key)

    def page(
        self,
        account: Account,
        *,
        max_id: int | None,
        since_id: int | None,
        min_id: int | None,
        limit: int,
    ) -> list[int]:
        key = home_key(account.pk)
        if not self.redis.exists(key):
            self.build(account)
        lower = max(x for x in (since_id, min_id, BUILT) if x is not None)
        oldest_first = min_id is not None
        muted = set(Mute.objects.filter(account=account).values_list("target_id", flat=True))
        found: list[int] = []
        low, high = f"({lower}", "+inf" if max_id is None else f"({max_id}"
        while len(found) < limit:
            want = limit - len(found)
            if oldest_first:
                batch = self.redis.zrangebyscore(key, low, high, start=0, num=want)
            else:
                batch = self.redis.zrevrangebyscore(key, high, low, start=0, num=want)
            ids = [int(member) for member in cast("list[bytes]", batch)]
            if not ids:
                break
            if oldest_first:
                low = f"({ids[-1]}"
            else:
                high = f"({ids[-1]}"
            found += _shown(account, ids, muted)
        return sorted(found, reverse=True)

    def floor(self, account: Account) -> int | None:
        key = home_key(account.pk)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zcard(key)
            pipe.zrange(key, 1, 1)
            count, oldest = pipe.execute()
        # The marker is not a post.
        return int(oldest[0]) if count > 1 and oldest else None


def _shown(account: Account, ids: list[int], muted: set[int]) -> list[int]:
    """``ids`` in order, kept only if ``account`` may still see them (the one visibility
    rule, ``selectors.visible_statuses``) and not by (or a reblog of) a muted account.

    Redis is written after the commit, so an entry can outlive what it reflects — a write
    after a delete, an unfollow or a block that failed (Redis down) — and the database
    decides again on every read: a stale entry is skipped, never shown."""
    from kindwave.community.selectors import visible_statuses  # a cycle at import time

    authors = {
        pk: (author, reblogged)
        for pk, author, reblogged in visible_statuses(account)
        .filter(pk__in=ids)
        .values_list("pk", "account_id", "reblog_of__account_id")
    }
    return [
        pk
        for pk in ids
        if pk in authors and authors[pk][0] not in muted and authors[pk][1] not in muted
    ]


def current(*, cap: Callable[[], int], rebuild: Callable[[Account], list[int]]) -> TimelineStore:
    """The configured store: Redis when ``KINDWAVE_REDIS_URL`` is set, else the database."""
    url = getattr(settings, "KINDWAVE_REDIS_URL", "")
    if url:
        return RedisStore(url, cap=cap, rebuild=rebuild)
    return DatabaseStore()
