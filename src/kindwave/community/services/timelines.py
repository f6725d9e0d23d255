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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from django.db import connection, transaction
from django.db.models import Q

from kindwave.community.models import (
    Account,
    Block,
    Follow,
    Project,
    ProjectFollow,
    Status,
    TimelineEntry,
    Visibility,
)

_ENTRY = TimelineEntry._meta.db_table
_FOLLOW = Follow._meta.db_table
_BLOCK = Block._meta.db_table
_PROJECT_FOLLOW = ProjectFollow._meta.db_table

#: Entries kept in each home timeline (Mastodon keeps 800).
HOME_CAP = 800
#: Accounts whose homes one statement of :func:`trim_homes` trims.
TRIM_BATCH = 2_000


def _deliver_from(
    status: Status, table: str, column: str, value: int, unless_blocked_by: Iterable[int]
) -> int:
    """Entries for ``status`` in the homes of the ``account_id`` of the rows of ``table``
    whose ``column`` is ``value`` (an account's followers, a project's followers), leaving
    out anyone who blocks, or is blocked by, one of the accounts ``unless_blocked_by``."""
    authors = sorted(set(unless_blocked_by))
    marks = ", ".join(["%s"] * len(authors))
    sql = (
        f"INSERT INTO {_ENTRY} (account_id, status_id) "  # noqa: S608 - names are ours
        f"SELECT f.account_id, %s FROM {table} f WHERE f.{column} = %s "
        f"AND NOT EXISTS (SELECT 1 FROM {_BLOCK} b WHERE "
        f"(b.account_id = f.account_id AND b.target_id IN ({marks})) "
        f"OR (b.target_id = f.account_id AND b.account_id IN ({marks}))) "
        "ON CONFLICT DO NOTHING"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [status.pk, value, *authors, *authors])
        return max(cursor.rowcount, 0)


def speaks_for(account: Account, project: Project) -> bool:
    """Whether ``account``'s posts about ``project`` are the project's updates: it runs
    the project, or it is the account of the project's cause."""
    return account.pk == project.owner_id or (
        account.cause_id is not None and account.cause_id == project.cause_id
    )


def _deliver_to(status: Status, accounts: Iterable[Account], authors: Iterable[int]) -> None:
    author_ids = list(authors)
    ids = {account.pk for account in accounts}
    if not ids:
        return
    blocked = set(
        Block.objects.filter(account_id__in=ids, target_id__in=author_ids).values_list(
            "account_id", flat=True
        )
    ) | set(
        Block.objects.filter(account_id__in=author_ids, target_id__in=ids).values_list(
            "target_id", flat=True
        )
    )
    TimelineEntry.objects.bulk_create(
        [TimelineEntry(account_id=pk, status=status) for pk in ids - blocked],
        ignore_conflicts=True,
    )


def fan_out(status: Status, mentioned: Iterable[Account] = ()) -> None:
    """Deliver a new post or reblog to the homes of those who should see it there: its
    author; the author's followers (public, unlisted and followers-only posts, reblogs);
    the accounts it mentions (mentioned-only posts); and for a public or unlisted update
    of a project by the account that speaks for it, the project's followers. Blocks either
    way are respected."""
    authors = [status.account_id]
    if status.reblog_of is not None:
        authors.append(status.reblog_of.account_id)
    TimelineEntry.objects.get_or_create(account_id=status.account_id, status=status)
    if status.visibility == Visibility.DIRECT:
        _deliver_to(status, mentioned, authors)
        return
    _deliver_from(status, _FOLLOW, "target_id", status.account_id, authors)
    project = status.donate_project
    if (
        project is not None
        and status.reblog_of is None
        and status.visibility in (Visibility.PUBLIC, Visibility.UNLISTED)
        and speaks_for(status.account, project)
    ):
        _deliver_from(status, _PROJECT_FOLLOW, "project_id", project.pk, authors)


def withdraw_status(status: Status) -> None:
    """Remove ``status`` from every home timeline."""
    TimelineEntry.objects.filter(status=status).delete()


def backfill(account: Account, visible: Iterable[int]) -> None:
    """Put ``visible`` (ids of posts ``account`` may see: a newly followed account's
    recent ones) into ``account``'s home."""
    TimelineEntry.objects.bulk_create(
        [TimelineEntry(account=account, status_id=pk) for pk in visible], ignore_conflicts=True
    )


def withdraw_account(account: Account, target: Account, *, reblogs_of_too: bool = False) -> None:
    """Remove ``target``'s posts and reblogs from ``account``'s home (unfollow), and with
    ``reblogs_of_too`` others' reblogs of ``target``'s posts as well (block)."""
    gone = Q(status__account=target)
    if reblogs_of_too:
        gone |= Q(status__reblog_of__account=target)
    TimelineEntry.objects.filter(gone, account=account).delete()


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
