"""Fan-out on write: a post is written into the home timeline (``TimelineEntry``) of
everyone who should see it there, in the posting transaction.

The followers' entries are made by one ``INSERT … SELECT`` over the follows (no rows
travel through Python), so that a cause with tens of thousands of followers posts in
milliseconds; it runs the same on SQLite and PostgreSQL (``ON CONFLICT DO NOTHING``).

Each home keeps its newest :data:`HOME_CAP` entries, as Mastodon does: :func:`trim_homes`
(``kindwave community trim-timelines``, run periodically) removes the older ones in bulk,
so the fan-out itself never pays for trimming. Reading past the kept entries falls back to
a fan-out-on-read query (:func:`kindwave.community.selectors.home`), so an old page is
still complete; between two trims a home may hold more, which changes no read.

With ``KINDWAVE_REDIS_URL`` set the homes live in Redis instead
(:mod:`kindwave.community.services.timeline_store`): the receivers are computed by a
``SELECT`` in the posting transaction and written once it commits, each home capped as it
is written; :func:`trim_homes` then has nothing to trim.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import connection, transaction

from kindwave.community.models import (
    Account,
    Follow,
    Project,
    ProjectFollow,
    Status,
    TimelineEntry,
    Visibility,
)
from kindwave.community.services import timeline_store

_ENTRY = TimelineEntry._meta.db_table
_FOLLOW = Follow._meta.db_table
_PROJECT_FOLLOW = ProjectFollow._meta.db_table

#: Entries kept in each home timeline (Mastodon keeps 800).
HOME_CAP = 800
#: Accounts whose homes one statement of :func:`trim_homes` trims.
TRIM_BATCH = 2_000


def speaks_for(account: Account, project: Project) -> bool:
    """Whether ``account``'s posts about ``project`` are the project's updates: it runs
    the project, or it is the account of the project's cause."""
    return account.pk == project.owner_id or (
        account.cause_id is not None and account.cause_id == project.cause_id
    )


def store() -> timeline_store.TimelineStore:
    """The configured home-timeline store (the database, or Redis with
    ``KINDWAVE_REDIS_URL``)."""
    from kindwave.community import selectors  # selectors imports this module

    def rebuild(account: Account) -> list[int]:
        newest = selectors.home_deliveries(account).order_by("-id").values_list("id", flat=True)
        return list(newest[:HOME_CAP])

    return timeline_store.current(cap=lambda: HOME_CAP, rebuild=rebuild)


def delivery(status: Status, mentioned: Iterable[Account] = ()) -> timeline_store.Delivery:
    """Who receives ``status`` in their home: its author; the author's followers (public,
    unlisted and followers-only posts, reblogs); the accounts it mentions (mentioned-only
    posts); and for a public or unlisted update of a project by the account that speaks
    for it, the project's followers. Blocks either way with the author (or the reblogged
    post's author) leave one out."""
    authors = [status.account_id]
    if status.reblog_of is not None:
        authors.append(status.reblog_of.account_id)
    direct = {status.account_id}
    sources: list[tuple[str, str, int]] = []
    if status.visibility == Visibility.DIRECT:
        direct |= {account.pk for account in mentioned}
    else:
        sources.append((_FOLLOW, "target_id", status.account_id))
        project = status.donate_project
        if (
            project is not None
            and status.reblog_of is None
            and status.visibility in (Visibility.PUBLIC, Visibility.UNLISTED)
            and speaks_for(status.account, project)
        ):
            sources.append((_PROJECT_FOLLOW, "project_id", project.pk))
    return timeline_store.Delivery(
        status_id=status.pk,
        authors=tuple(sorted(set(authors))),
        direct=frozenset(direct),
        sources=tuple(sources),
    )


def fan_out(status: Status, mentioned: Iterable[Account] = ()) -> None:
    """Deliver a new post or reblog to the homes of those who should see it there (see
    :func:`delivery`). Called in the posting transaction: the database store writes in it,
    the Redis store once it commits."""
    store().deliver(delivery(status, mentioned))


def withdraw_status(status: Status) -> None:
    """Remove ``status`` from every home timeline."""
    store().withdraw(delivery(status, status.mentions.all()))


def backfill(account: Account, visible: Iterable[int]) -> None:
    """Put ``visible`` (ids of posts ``account`` may see: a newly followed account's
    recent ones) into ``account``'s home."""
    store().backfill(account, list(visible))


def withdraw_account(account: Account, target: Account, *, reblogs_of_too: bool = False) -> None:
    """Remove ``target``'s posts and reblogs from ``account``'s home (unfollow), and with
    ``reblogs_of_too`` others' reblogs of ``target``'s posts as well (block). The Redis
    store drops the home instead, rebuilt from the posts on its next read."""
    store().withdraw_account(account, target, reblogs_of_too=reblogs_of_too)


def trim_homes(
    *,
    cap: int | None = None,
    batch: int = TRIM_BATCH,
    after_account: int = 0,
    on_batch: Callable[[int, int, int], None] | None = None,
) -> int:
    """Keep only the newest ``cap`` (default :data:`HOME_CAP`) entries of every home; return
    how many entries were removed. Homes are taken ``batch`` accounts at a time in id order
    (those after ``after_account`` only), one transaction each, so the job can stop at any
    point and be run again; ``on_batch(last_account_id, homes, removed)`` is called after
    each.
    Idempotent: a second run removes nothing. Who may call it: the periodic job."""
    keep = HOME_CAP if cap is None else cap
    if keep < 1:
        raise ValueError("cap must be at least 1")
    # One window query per batch of accounts: every entry ranked inside its home, the
    # ones past the cap deleted; the (account, -status) index feeds the ranking in order.
    delete = (
        f"DELETE FROM {_ENTRY} WHERE id IN ("  # noqa: S608 - names are ours
        "SELECT id FROM (SELECT id, ROW_NUMBER() OVER "
        "(PARTITION BY account_id ORDER BY status_id DESC) AS place "
        f"FROM {_ENTRY} WHERE account_id > %s AND account_id <= %s) ranked "
        "WHERE place > %s)"
    )
    removed = 0
    last = after_account
    while True:
        ids = list(
            Account.objects.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:batch]
        )
        if not ids:
            return removed
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(delete, [last, ids[-1], keep])
            done = max(cursor.rowcount, 0)
        removed += done
        last = ids[-1]
        if on_batch is not None:
            on_batch(last, len(ids), done)
