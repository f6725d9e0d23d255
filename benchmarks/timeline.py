"""Benchmark the home timeline: the Mastodon route over HTTP, against fan-out on read, and
the fan-out of one post by a cause with 50k followers.

    .venv/bin/python benchmarks/timeline.py [--accounts 100000] [--follows 2000000]
        [--posts 5000000] [--database sqlite|postgres] [--server gunicorn|uvicorn]
        [--workers 2] [--clients 16] [--seconds 15] [--rebuild] [--profile 200]
        [--redis redis://127.0.0.1:6379/0]

The data set (not timed; built once with bulk SQL and reused — ``var/bench-timeline/``
for SQLite, ``--rebuild`` to start again; ``postgres`` uses the database ``DATABASE_URL``
names and replaces its community rows): ``--accounts`` accounts, the twelve demo causes
among them, five of which are followed by 50-60 % of everyone (50k+ at full size); the
other follows go to people chosen with a heavy (Zipf) tail; ``--posts`` posts (88 %
public, 5 % unlisted, 7 % followers-only, one in twenty a reblog), the causes posting most;
each home as the fan-out on write would have left it after ``trim-timelines`` (its own and
its follows' posts, the newest 800); a read token (stored hashed, as django-oauth-toolkit
keeps them here) for each of up to 2,000 active accounts (following ten or more).

Timed, in one run:

1. ``GET /api/v1/timelines/home`` (20 posts a page) served as ``kindwave serve`` serves
   it, by gunicorn's sync workers (``--server uvicorn`` for the ASGI server instead;
   ``--workers`` processes, DEBUG off), while ``--clients`` clients (asyncio, in this
   process) each ask for a random active account's home, one request after the other,
   for ``--seconds`` seconds: requests/s, p50, p99. A sync worker closes the connection
   after each response, so those clients connect again, inside the timed latency. The
   machine's cores are shared: the server's workers and the load generator's one process
   compete for them.
2. The same, with the server reading every home by fan-out on read (the naive baseline:
   the followed accounts' visible posts, newest first), and the ratio.
3. ``posts.post`` of one post by the most followed cause (the real service, the fan-out's
   ``INSERT … SELECT`` included): deliveries/s; then ``trim_homes`` bringing those homes
   back to the cap.

``--redis URL`` also times 3. with the homes in that Redis (``KINDWAVE_REDIS_URL``; the
receiving homes are marked built first and deleted after; the HTTP reads stay on the
database store). ``--profile N`` also runs N home requests in this process under
cProfile and prints where the time goes. Targets of issue 5: ≥ 1,000 requests/s with
p99 ≤ 40 ms; fan-out ≥ 100k deliveries/s.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import random
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "var" / "bench-timeline"
TARGET_RPS, TARGET_P99_MS, TARGET_FAN_OUT = 1_000, 40.0, 100_000
HEAVY_CAUSES = 5
ACTIVE_TOKENS = 2_000
PAGE = 20
#: Entries kept per home: the data set is built as trim-timelines leaves homes.
HOME_CAP = 800
#: The server reads homes by fan-out on read when this variable is set (the baseline).
ON_READ_VARIABLE = "KINDWAVE_BENCH_HOME_ON_READ"
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Spec:
    accounts: int
    follows: int
    posts: int
    cap: int
    seed: int = 5


def environment(database: str, work: Path) -> dict[str, str]:
    """The server's environment (and this process's): production settings, DEBUG off."""
    env = {
        "KINDWAVE_DEBUG": "false",
        "KINDWAVE_SECRET_KEY": "bench-timeline-" + "x" * 32,
        "KINDWAVE_DATA_DIR": str(work),
        "DJANGO_SETTINGS_MODULE": "kindwave.settings",
    }
    if database == "sqlite":
        env["DATABASE_URL"] = f"sqlite:///{work / 'timeline.sqlite3'}"
    elif not os.environ.get("DATABASE_URL", "").startswith(("postgres:", "postgresql:")):
        sys.exit("--database postgres needs DATABASE_URL=postgres://… (a database to fill)")
    return env


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def say(message: str) -> None:
    print(message, flush=True)


# -- the data set ------------------------------------------------------------------------


def _follows(spec: Spec, rng: np.random.Generator, causes: np.ndarray) -> np.ndarray:
    """(follower, target) index pairs: the heavy causes' crowds, then a Zipf tail."""
    n = spec.accounts
    pairs = []
    for cause in causes[:HEAVY_CAUSES]:
        crowd = rng.choice(n, size=int(n * rng.uniform(0.5, 0.6)), replace=False)
        pairs.append(np.stack([crowd, np.full_like(crowd, cause)], axis=1))
    heavy = sum(len(p) for p in pairs)
    rest = max(spec.follows - heavy, 0)
    # Popularity by a Zipf rank over a shuffled order of the accounts.
    order = rng.permutation(n)
    ranks = np.minimum(rng.zipf(1.3, size=int(rest * 1.15)) - 1, n - 1)
    followers = rng.integers(0, n, size=len(ranks))
    pairs.append(np.stack([followers, order[ranks]], axis=1))
    both = np.concatenate(pairs)
    both = both[both[:, 0] != both[:, 1]]
    keys = np.unique(both[:, 0].astype(np.int64) * n + both[:, 1])
    if len(keys) > spec.follows:
        keys = np.sort(rng.choice(keys, size=spec.follows, replace=False))
    return np.stack([keys // n, keys % n], axis=1)


def build(spec: Spec) -> None:
    """Accounts, follows, posts, capped homes and tokens, in bulk (see the docstring)."""
    from django.db import connection, transaction
    from oauth2_provider.models import AccessToken, Application

    from kindwave.accounts.models import User
    from kindwave.causes import services as causes
    from kindwave.causes.models import Cause
    from kindwave.community.models import Account, Follow, Status, TimelineEntry
    from kindwave.community.services.accounts import ensure_cause_account
    from kindwave.lib.bulk import insert_rows

    rng = np.random.default_rng(spec.seed)
    began = time.perf_counter()
    if connection.vendor == "sqlite":
        # A data set built again from scratch if lost: no need to wait for the disk.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("PRAGMA cache_size=-1000000")

    def step(what: str) -> None:
        say(f"  {what} ({time.perf_counter() - began:,.0f} s)")

    for model in (TimelineEntry, AccessToken, Application, Follow):
        model.objects.all().delete()
    Status.objects.all().delete()
    Account.objects.all().delete()
    User.objects.filter(email__endswith="@bench.example").delete()
    causes.load_demo_causes()
    cause_accounts = [ensure_cause_account(c) for c in Cause.objects.order_by("pk")]
    n = spec.accounts
    first = (User.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    base = (Account.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    persons = n - len(cause_accounts)
    # Account ids by index: the causes first (as they are), then the people.
    account_ids = np.concatenate(
        [np.array([a.pk for a in cause_accounts]), base + np.arange(persons)]
    )
    now = datetime.now(tz=UTC)
    with transaction.atomic():
        for start in range(0, persons, 50_000):
            chunk = range(start, min(start + 50_000, persons))
            insert_rows(User, ("password", "last_login", "is_superuser", "email", "full_name",
                               "language", "time_zone", "email_verified_at", "is_active",
                               "is_staff", "date_joined", "id"),
                        [("!", None, False, f"p{i}@bench.example", f"Person {i}", "en", "UTC",
                          now, True, False, now, first + i) for i in chunk])  # fmt: skip
            insert_rows(Account, ("username", "kind", "user", "cause", "display_name", "note",
                                  "avatar", "discoverable", "created_at", "followers_count",
                                  "following_count", "statuses_count", "last_status_at", "id"),
                        [(f"p{i}", "person", first + i, None, f"Person {i}", "", "", True,
                          EPOCH, 0, 0, 0, None, base + i) for i in chunk])  # fmt: skip
    step(f"{n:,} accounts")

    pairs = _follows(spec, rng, np.arange(len(cause_accounts)))
    with transaction.atomic():
        for start in range(0, len(pairs), 100_000):
            chunk = pairs[start : start + 100_000]
            insert_rows(Follow, ("account", "target", "created_at"),
                        [(int(account_ids[a]), int(account_ids[t]), EPOCH)
                         for a, t in chunk])  # fmt: skip
    step(f"{len(pairs):,} follows")

    # Posts: the causes post most (weight 200 against a heavy-tailed person's weight).
    weights = np.concatenate(
        [np.full(len(cause_accounts), 200.0), rng.pareto(1.5, size=persons) + 0.05]
    )
    authors = rng.choice(n, size=spec.posts, p=weights / weights.sum())
    kinds = rng.random(spec.posts)
    first_status = (Status.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
    status_ids = first_status + np.arange(spec.posts)
    visibility = np.where(kinds < 0.88, 0, np.where(kinds < 0.93, 1, 2))
    names = ("public", "unlisted", "private")
    reblog_of = np.full(spec.posts, -1)
    candidates = np.flatnonzero((rng.random(spec.posts) < 0.05) & (np.arange(spec.posts) > 0))
    reblog_of[candidates] = (rng.random(len(candidates)) * candidates).astype(np.int64)
    # A reblog is of a public post by someone else, once per account; others stay posts.
    seen: set[tuple[int, int]] = set()
    for i in candidates:
        target = reblog_of[i]
        key = (int(authors[i]), int(target))
        if (
            visibility[target] != 0
            or authors[target] == authors[i]
            or reblog_of[target] >= 0
            or key in seen
        ):
            reblog_of[i] = -1
        else:
            seen.add(key)
            visibility[i] = 0
    span = timedelta(days=90).total_seconds()
    columns = ("id", "account", "text", "content_html", "spoiler_text", "sensitive", "language",
               "visibility", "in_reply_to", "in_reply_to_account", "conversation_root",
               "reblog_of", "donate_cause", "donate_project", "idempotency_key", "created_at",
               "edited_at", "deleted_at", "replies_count", "reblogs_count",
               "favourites_count")  # fmt: skip
    with transaction.atomic():
        for start in range(0, spec.posts, 100_000):
            rows = []
            for i in range(start, min(start + 100_000, spec.posts)):
                at = EPOCH + timedelta(seconds=span * i / spec.posts)
                if reblog_of[i] >= 0:
                    text = html = ""
                    reblog = int(status_ids[reblog_of[i]])
                else:
                    text = f"Post {i}: news of the wells, the volunteers and what comes next."
                    html = f"<p>{text}</p>"
                    reblog = None
                rows.append((int(status_ids[i]), int(account_ids[authors[i]]), text, html, "",
                             False, "en", names[visibility[i]], None, None, None, reblog, None,
                             None, "", at, None, None, 0, 0, 0))  # fmt: skip
            insert_rows(Status, columns, rows)
            say(f"    posts: {start + len(rows):,} / {spec.posts:,}")
    step(f"{spec.posts:,} posts")

    # Each home as the fan-out left it, trimmed: the newest ``cap`` of its own and its
    # follows' posts (no post here is mentioned-only and no one blocks anyone).
    order = np.argsort(authors, kind="stable")
    bounds = np.searchsorted(authors[order], np.arange(n + 1))
    newest = [status_ids[order[bounds[a] : bounds[a + 1]]][-spec.cap :] for a in range(n)]
    following: list[list[int]] = [[] for _ in range(n)]
    for a, t in pairs:
        following[a].append(int(t))
    entries = 0
    with transaction.atomic():
        batch: list[tuple[int, int]] = []
        for a in range(n):
            home = np.concatenate([newest[a], *(newest[t] for t in following[a])])
            if len(home) > spec.cap:
                home = np.partition(home, len(home) - spec.cap)[-spec.cap :]
            account = int(account_ids[a])
            batch.extend((account, int(s)) for s in np.sort(home))
            if len(batch) >= 200_000 or a == n - 1:
                insert_rows(TimelineEntry, ("account", "status"), batch)
                entries += len(batch)
                batch = []
                say(f"    homes: {a + 1:,} / {n:,}, {entries:,} entries")
    step(f"{entries:,} home entries")

    with transaction.atomic(), connection.cursor() as cursor:
        account_table = Account._meta.db_table
        follow_table = Follow._meta.db_table
        status_table = Status._meta.db_table
        cursor.execute(
            f"UPDATE {account_table} SET "  # noqa: S608 - our tables
            f"followers_count = (SELECT COUNT(*) FROM {follow_table} f "
            f"WHERE f.target_id = {account_table}.id), "
            f"following_count = (SELECT COUNT(*) FROM {follow_table} f "
            f"WHERE f.account_id = {account_table}.id), "
            f"statuses_count = (SELECT COUNT(*) FROM {status_table} s "
            f"WHERE s.account_id = {account_table}.id)"
        )
    step("counters")
    # Rows were written with their ids: PostgreSQL's sequences must move past them.
    from django.core.management.color import no_style

    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(
            no_style(), [User, Account, Status, Follow, TimelineEntry]
        ):
            cursor.execute(statement)
    _tokens(account_ids, following, len(cause_accounts))
    step("tokens")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    step("ANALYZE")


def _tokens(account_ids: np.ndarray, following: list[list[int]], causes: int) -> None:
    """A read token for each of up to ACTIVE_TOKENS active people, stored as
    django-oauth-toolkit stores it here (its SHA-256 checksum only); the plain tokens go
    to the work folder for the load generator."""
    from oauth2_provider.models import AccessToken, Application

    from kindwave.community.models import Account

    app = Application.objects.create(
        name="bench",
        client_type=Application.CLIENT_CONFIDENTIAL,
        authorization_grant_type=Application.GRANT_PASSWORD,
        redirect_uris="urn:ietf:wg:oauth:2.0:oob",
    )
    active = [a for a in range(causes, len(account_ids)) if len(following[a]) >= 10]
    chosen = random.Random(5).sample(active, min(ACTIVE_TOKENS, len(active)))
    users = dict(
        Account.objects.filter(pk__in=[int(account_ids[a]) for a in chosen]).values_list(
            "pk", "user_id"
        )
    )
    expires = datetime.now(tz=UTC) + timedelta(days=3650)
    plain, rows = [], []
    for a in chosen:
        token = secrets.token_urlsafe(32)
        plain.append(token)
        row = AccessToken(
            user_id=users[int(account_ids[a])],
            token="",
            application=app,
            expires=expires,
            scope="read write follow",
        )
        # Only its checksum is stored, as when django-oauth-toolkit issues a token here.
        row._raw_token = token  # type: ignore[attr-defined]
        rows.append(row)
    AccessToken.objects.bulk_create(rows, batch_size=500)
    (WORK_DIR.get() / "tokens.txt").write_text("\n".join(plain) + "\n")


class _WorkDir:
    path: Path = WORK

    def get(self) -> Path:
        return self.path


WORK_DIR = _WorkDir()


def ensure_built(spec: Spec, database: str, rebuild: bool, env: dict[str, str]) -> None:
    """Set Django up on the data set of ``spec``, built unless the work folder has it."""
    marker = WORK_DIR.get() / "built.json"
    if not rebuild and marker.exists() and json.loads(marker.read_text()) == asdict(spec):
        setup_django(env)
        say(f"reusing the data set in {WORK_DIR.get()} (--rebuild to build it again)")
        return
    marker.unlink(missing_ok=True)
    if database == "sqlite":
        for leftover in WORK_DIR.get().glob("timeline.sqlite3*"):
            leftover.unlink()
    setup_django(env)
    say(f"building the data set: {spec.accounts:,} accounts, {spec.follows:,} follows, "
        f"{spec.posts:,} posts (not timed)")  # fmt: skip
    build(spec)
    marker.write_text(json.dumps(asdict(spec)))


# -- the server and the load ------------------------------------------------------------


def server_app() -> Any:
    """uvicorn's app factory: the project's ASGI application; for the baseline, homes read
    by fan-out on read (:func:`~kindwave.community.selectors.home_on_read`)."""
    from kindwave.asgi import application

    _baseline_if_asked()
    return application


def server_wsgi_app() -> Any:
    """gunicorn's app factory: the project's WSGI application, as :func:`server_app`."""
    from kindwave.wsgi import application

    _baseline_if_asked()
    return application


def _baseline_if_asked() -> None:
    if os.environ.get(ON_READ_VARIABLE):
        from kindwave.community import selectors

        def home_on_read(account: Any, **page: Any) -> Any:
            return selectors._page(account, selectors.home_on_read(account), **page)

        selectors.home = home_on_read


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    env: dict[str, str], server: str, workers: int, on_read: bool
) -> tuple[subprocess.Popen, int]:
    port = free_port()
    server_env = {**os.environ, **env, "PYTHONPATH": f"{ROOT / 'src'}:{ROOT / 'benchmarks'}"}
    if on_read:
        server_env[ON_READ_VARIABLE] = "1"
    else:
        server_env.pop(ON_READ_VARIABLE, None)
    if server == "gunicorn":
        # As ``kindwave serve`` runs it: sync workers, one request at a time each.
        command = [sys.executable, "-m", "gunicorn", "timeline:server_wsgi_app()",
                   "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
                   "--worker-class", "sync", "--log-level", "warning"]  # fmt: skip
    else:
        command = [sys.executable, "-m", "uvicorn", "--factory", "timeline:server_app",
                   "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
                   "--no-access-log", "--log-level", "warning", "--lifespan", "off"]  # fmt: skip
    process = subprocess.Popen(command, env=server_env, start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return process, port
        except OSError:
            time.sleep(0.2)
    stop_server(process)
    sys.exit("the server did not start")


def stop_server(process: subprocess.Popen) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=30)


async def _request(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bool]:
    """(the response's status, whether the server keeps the connection open)."""
    writer.write(request)
    status_line = await reader.readline()
    length, chunked, kept = 0, False, True
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode("latin-1").partition(":")
        if name.lower() == "content-length":
            length = int(value)
        elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
            chunked = True
        elif name.lower() == "connection" and "close" in value.lower():
            kept = False
    if chunked:
        while size := int((await reader.readline()).strip(), 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    else:
        await reader.readexactly(length)
    return int(status_line.split()[1]), kept


@dataclass
class LoadResult:
    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def rps(self) -> float:
        return self.requests / self.seconds


async def _load(port: int, tokens: list[str], clients: int, seconds: float) -> LoadResult:
    latencies: list[float] = []
    errors = 0
    rng = random.Random(11)

    async def client(stop: float) -> None:
        nonlocal errors
        connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            while time.perf_counter() < stop:
                request = (
                    f"GET /api/v1/timelines/home?limit={PAGE} HTTP/1.1\r\n"
                    f"Host: 127.0.0.1\r\nAuthorization: Bearer {rng.choice(tokens)}\r\n"
                    "Accept: application/json\r\n\r\n"
                ).encode()
                began = time.perf_counter()
                # A server that closes after each response (gunicorn's sync workers)
                # costs a new connection per request, counted in its latency.
                if connection is None:
                    connection = await asyncio.open_connection("127.0.0.1", port)
                status, kept = await _request(*connection, request)
                latencies.append(time.perf_counter() - began)
                errors += status != 200
                if not kept:
                    connection[1].close()
                    connection = None
        finally:
            if connection is not None:
                connection[1].close()

    # A warm-up (connections, the workers' caches), not counted.
    await asyncio.gather(*(client(time.perf_counter() + 2) for _ in range(clients)))
    latencies.clear()
    errors = 0
    began = time.perf_counter()
    await asyncio.gather(*(client(began + seconds) for _ in range(clients)))
    elapsed = time.perf_counter() - began
    ordered = sorted(latencies)
    return LoadResult(
        requests=len(ordered),
        seconds=elapsed,
        p50_ms=1000 * ordered[len(ordered) // 2],
        p99_ms=1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        errors=errors,
    )


def serve_and_load(
    env: dict[str, str], args: argparse.Namespace, tokens: list[str], on_read: bool
) -> LoadResult:
    process, port = start_server(env, args.server, args.workers, on_read)
    try:
        return asyncio.run(_load(port, tokens, args.clients, args.seconds))
    finally:
        stop_server(process)


# -- fan-out and profile --------------------------------------------------------------------


def fan_out_once(redis_url: str = "") -> tuple[int, float, int, float]:
    """(deliveries, seconds) of one post by the most followed cause through the posting
    service, commit included; then (entries removed, seconds) of ``trim_homes`` bringing
    the homes back to the cap, rolled back. The post is removed afterwards, so the data
    set is as it was and can be reused.

    With ``redis_url``, the homes are in that Redis instead (this process only): every
    receiving home is first marked built (empty; a home not built is skipped by the
    fan-out and rebuilt when read), the post's receivers are selected in the posting
    transaction and written by one pipelined batch after commit (both timed), and the
    homes are deleted afterwards; there is nothing to trim."""
    from django.conf import settings
    from django.db import transaction

    from kindwave.community.models import Account, Follow, Status, TimelineEntry
    from kindwave.community.services import posts, timelines
    from kindwave.community.services.timeline_store import BUILT, home_key

    cause = Account.objects.filter(kind=Account.Kind.CAUSE).order_by("-followers_count")[0]
    text = "Fan-out benchmark: one post to every follower."
    homes: list[str] = []
    if redis_url:
        import redis

        settings.KINDWAVE_REDIS_URL = redis_url
        client = redis.Redis.from_url(redis_url)
        readers = [
            cause.pk,
            *Follow.objects.filter(target=cause).values_list("account_id", flat=True),
        ]
        homes = [home_key(pk) for pk in readers]
        with client.pipeline(transaction=False) as pipe:
            for key in homes:
                pipe.delete(key)
                pipe.zadd(key, {str(BUILT): BUILT})
            pipe.execute()
    began = time.perf_counter()
    status = posts.post(cause, text, visibility="public")
    seconds = time.perf_counter() - began
    removed, trim_seconds = 0, 0.0
    if redis_url:
        with client.pipeline(transaction=False) as pipe:
            for key in homes:
                pipe.zscore(key, status.pk)
            deliveries = sum(score is not None for score in pipe.execute())
        client.delete(*homes)
        settings.KINDWAVE_REDIS_URL = ""
    else:
        deliveries = TimelineEntry.objects.filter(status=status).count()
        with transaction.atomic():
            began = time.perf_counter()
            removed = timelines.trim_homes()
            trim_seconds = time.perf_counter() - began
            transaction.set_rollback(True)
        TimelineEntry.objects.filter(status=status).delete()
    Status.objects.filter(pk=status.pk).delete()
    Account.objects.filter(pk=cause.pk).update(
        statuses_count=cause.statuses_count, last_status_at=cause.last_status_at
    )
    return deliveries, seconds, removed, trim_seconds


def profile(tokens: list[str], count: int) -> None:
    """``count`` home requests through Django's handler in this process, under cProfile."""
    from django.test import Client

    client = Client()
    rng = random.Random(3)
    for token in tokens[:20]:  # warm-up
        client.get(
            "/api/v1/timelines/home", HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="127.0.0.1"
        )
    profiler = cProfile.Profile()
    began = time.perf_counter()
    profiler.enable()
    for _ in range(count):
        token = rng.choice(tokens)
        client.get(
            f"/api/v1/timelines/home?limit={PAGE}",
            HTTP_AUTHORIZATION=f"Bearer {token}",
            HTTP_HOST="127.0.0.1",
        )
    profiler.disable()
    elapsed = time.perf_counter() - began
    say(f"profile: {count} requests in-process, {1000 * elapsed / count:.1f} ms each "
        "(under cProfile); the costliest functions, cumulative:")  # fmt: skip
    stats = pstats.Stats(profiler, stream=sys.stdout)
    stats.sort_stats("cumulative").print_stats(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--follows", type=int, default=2_000_000)
    parser.add_argument("--posts", type=int, default=5_000_000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--server",
        choices=["gunicorn", "uvicorn"],
        default="gunicorn",
        help="gunicorn sync workers (WSGI, as kindwave serve) or uvicorn (ASGI)",
    )
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--profile", type=int, default=0, metavar="N")
    parser.add_argument(
        "--redis",
        default="",
        metavar="URL",
        help="also time the fan-out into home timelines in this Redis (redis://…)",
    )
    args = parser.parse_args()
    if args.accounts < 1_000:
        parser.error("--accounts: at least 1,000")
    WORK_DIR.path = WORK if args.database == "sqlite" else WORK / "postgres"
    WORK_DIR.path.mkdir(parents=True, exist_ok=True)
    env = environment(args.database, WORK_DIR.path)
    sys.path.insert(0, str(ROOT / "src"))
    spec = Spec(args.accounts, args.follows, args.posts, HOME_CAP)
    ensure_built(spec, args.database, args.rebuild, env)
    from django.db import connection

    from kindwave.community.services import timelines

    if timelines.HOME_CAP != HOME_CAP:
        sys.exit(f"HOME_CAP is {timelines.HOME_CAP} in timelines.py: update it here too")

    tokens = (WORK_DIR.path / "tokens.txt").read_text().split()
    say(f"database: {connection.vendor}; {len(tokens):,} active accounts with a token; "
        f"{args.server} {args.workers} worker(s) and {args.clients} clients on {os.cpu_count()} "
        "cores (shared)")  # fmt: skip
    load = os.getloadavg()[0]
    if load > 0.5:
        say(f"warning: load average {load:.1f} before the run: other work shares the cores")
    connection.close()  # the server's processes open their own
    stored = serve_and_load(env, args, tokens, on_read=False)
    on_read = serve_and_load(env, args, tokens, on_read=True)
    for name, result in (("home (store)", stored), ("fan-out on read", on_read)):
        say(f"{name}: {result.requests:,} requests in {result.seconds:.1f} s: "
            f"{result.rps:,.0f} requests/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, {result.errors} errors")  # fmt: skip
    say(f"the store serves {stored.rps / on_read.rps:.1f} times the requests/s of fan-out on read, "
        f"p99 {on_read.p99_ms / stored.p99_ms:.1f} times lower")  # fmt: skip
    deliveries, seconds, removed, trim_seconds = fan_out_once()
    say(f"fan-out: one post by the most followed cause to {deliveries:,} homes in "
        f"{seconds * 1000:.0f} ms: {deliveries / seconds:,.0f} deliveries/s; then "
        f"trim_homes (all homes): {removed:,} entries removed in {trim_seconds:.1f} s")  # fmt: skip
    if args.redis:
        to_redis, redis_seconds, _, _ = fan_out_once(args.redis)
        say(f"fan-out into Redis: the same post to {to_redis:,} homes in "
            f"{redis_seconds * 1000:.0f} ms, commit and the pipelined write after it "
            f"included: {to_redis / redis_seconds:,.0f} deliveries/s")  # fmt: skip
    if args.profile:
        profile(tokens, args.profile)
    met = stored.rps >= TARGET_RPS and stored.p99_ms <= TARGET_P99_MS
    say(f"target ≥ {TARGET_RPS:,} requests/s with p99 ≤ {TARGET_P99_MS:.0f} ms: "
        f"{'met' if met else 'NOT met'}; fan-out ≥ {TARGET_FAN_OUT:,}/s: "
        f"{'met' if deliveries / seconds >= TARGET_FAN_OUT else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
