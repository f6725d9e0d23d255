"""Home timelines in Redis (``KINDWAVE_REDIS_URL``), against a real redis-server: the
database store's behaviour checks run again unchanged, then what only Redis has (writes
after commit, the cap on write, homes rebuilt from the posts after a flush).

The tests are transactional: the Redis store writes in ``transaction.on_commit``, which a
test wrapped in one transaction would never reach."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from django.db import transaction

from kindwave.community import selectors
from kindwave.community.models import Account, Status, TimelineEntry, Visibility
from kindwave.community.services import follows, posts, timelines
from kindwave.community.services.timeline_store import BUILD_SECONDS, RedisStore, home_key
from kindwave.config import ConfigError, load_config
from tests.community import test_follows, test_posts, test_timeline_store, test_timelines
from tests.community.test_timeline_store import busy, cap, twelve, walk, walk_up
from tests.community.test_timelines import ten

__all__ = ["busy", "cap", "ten", "twelve"]  # the reused scenarios' fixtures

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("redis_home")]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A redis-server of our own on a free port, no persistence; its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is not installed: run scripts/ci-services.sh")
        pytest.skip("redis-server is not installed (apt-get install redis-server)")
    port = _free_port()
    workdir: Path = tmp_path_factory.mktemp("redis")
    command = [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(workdir)]
    server = subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"redis://127.0.0.1:{port}/0"
    client = redis.Redis.from_url(url)
    try:
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        else:
            pytest.fail(f"redis-server did not answer on port {port}")
        yield url
    finally:
        client.close()
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def redis_home(redis_server: str, settings: Any) -> redis.Redis:
    """The homes in the test's Redis, empty at the start of each test."""
    settings.KINDWAVE_REDIS_URL = redis_server
    client = redis.Redis.from_url(redis_server)
    client.flushall()
    return client


# --- The database store's checks, unchanged, with the homes in Redis ---------------------


class TestPagination(test_timelines.TestPagination):
    pass


class TestFollow(test_follows.TestFollow):
    pass


class TestBlockAndMute(test_follows.TestBlockAndMute):
    pass


class TestPost(test_posts.TestPost):
    pass


class TestDelete(test_posts.TestDelete):
    pass


class TestReblogAndFavourite(test_posts.TestReblogAndFavourite):
    pass


class TestDonateButtonAndProjectUpdates(test_posts.TestDonateButtonAndProjectUpdates):
    pass


class TestReadingPastTheCap(test_timeline_store.TestReadingPastTheCap):
    pass


class TestVisibilityUnchanged(test_timeline_store.TestVisibilityUnchanged):
    @pytest.mark.parametrize("limit", [2, 7, 40])
    def test_the_whole_home_reads_the_same_trimmed(  # type: ignore[override]
        self, cap: int, busy: Account, redis_home: redis.Redis, limit: int
    ) -> None:
        before = walk(busy, 40)
        # Capped as it is written: the marker and the newest ``cap`` posts.
        assert redis_home.zcard(home_key(busy.pk)) == cap + 1

        assert walk(busy, limit) == before
        assert walk_up(busy, limit) == before


# --- What only the Redis store does -------------------------------------------------------


def stored(client: redis.Redis, account: Account) -> list[int]:
    """The posts kept in ``account``'s home in Redis, newest first (``[]``: not built)."""
    return [int(m) for m in client.zrevrangebyscore(home_key(account.pk), "+inf", "(0")]


def build(*accounts: Account) -> None:
    """Read each home once, so that it is built and later deliveries reach it."""
    for account in accounts:
        selectors.home(account)


class TestFanOut:
    def test_reaches_built_homes_after_commit_and_writes_no_rows(
        self,
        redis_home: redis.Redis,
        alice_account: Account,
        bob_account: Account,
        charlie_account: Account,
    ) -> None:
        follows.follow(bob_account, alice_account)
        build(alice_account, bob_account, charlie_account)

        public = posts.post(alice_account, "hello", visibility=Visibility.PUBLIC)
        friends = posts.post(alice_account, "friends", visibility=Visibility.PRIVATE)
        direct = posts.post(alice_account, "@charlie psst", visibility=Visibility.DIRECT)

        assert stored(redis_home, alice_account) == [direct.pk, friends.pk, public.pk]
        assert stored(redis_home, bob_account) == [friends.pk, public.pk]
        assert stored(redis_home, charlie_account) == [direct.pk]
        assert not TimelineEntry.objects.exists()

    def test_the_outsider_never_receives_followers_or_mentioned_only_posts(
        self,
        redis_home: redis.Redis,
        alice_account: Account,
        bob_account: Account,
        charlie_account: Account,
    ) -> None:
        follows.follow(bob_account, alice_account)
        follows.follow(charlie_account, bob_account)
        build(charlie_account)

        posts.post(alice_account, "friends", visibility=Visibility.PRIVATE)
        posts.post(alice_account, "@bob psst", visibility=Visibility.DIRECT)

        assert stored(redis_home, charlie_account) == []
        assert selectors.home(charlie_account) == []

    def test_a_home_not_built_is_left_to_its_first_read(
        self, redis_home: redis.Redis, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)

        status = posts.post(alice_account, "hello", visibility=Visibility.PUBLIC)

        assert not redis_home.exists(home_key(bob_account.pk))
        assert [s.pk for s in selectors.home(bob_account)] == [status.pk]
        assert stored(redis_home, bob_account) == [status.pk]

    def test_a_rolled_back_post_never_reaches_redis(
        self, redis_home: redis.Redis, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        build(alice_account, bob_account)

        def post_then_fail() -> None:
            with transaction.atomic():
                posts.post(alice_account, "never", visibility=Visibility.PUBLIC)
                raise RuntimeError

        with pytest.raises(RuntimeError):
            post_then_fail()

        assert stored(redis_home, alice_account) == stored(redis_home, bob_account) == []
        assert not Status.objects.exists()

    def test_each_home_is_capped_as_it_is_written(
        self, redis_home: redis.Redis, cap: int, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        build(bob_account)

        sent = [posts.post(alice_account, f"post {n}", visibility="public").pk for n in range(9)]

        assert stored(redis_home, bob_account) == sent[::-1][:cap]
        assert walk(bob_account, 4) == sent[::-1]


class TestChanges:
    def test_delete_leaves_the_homes_it_reached(
        self, redis_home: redis.Redis, alice_account: Account, bob_account: Account
    ) -> None:
        follows.follow(bob_account, alice_account)
        build(bob_account)
        kept = posts.post(alice_account, "kept", visibility="public")
        gone = posts.post(alice_account, "gone", visibility="public")

        posts.delete_status(alice_account, gone)

        assert stored(redis_home, bob_account) == [kept.pk]

    def test_a_stale_entry_is_never_shown(
        self,
        redis_home: redis.Redis,
        alice_account: Account,
        bob_account: Account,
        charlie_account: Account,
    ) -> None:
        # Given entries Redis kept after the database changed (a write after commit that
        # failed): charlie's home holds alice's followers-only post and a deleted one,
        build(charlie_account)
        friends = posts.post(alice_account, "friends", visibility=Visibility.PRIVATE)
        gone = posts.post(bob_account, "gone", visibility=Visibility.PUBLIC)
        posts.delete_status(bob_account, gone)
        redis_home.zadd(home_key(charlie_account.pk), {str(friends.pk): friends.pk})
        redis_home.zadd(home_key(charlie_account.pk), {str(gone.pk): gone.pk})

        # then his home never shows them: the database decides on every read.
        assert selectors.home(charlie_account) == []

    def test_unfollow_and_block_drop_the_home_rebuilt_without_them(
        self,
        redis_home: redis.Redis,
        alice_account: Account,
        bob_account: Account,
        charlie_account: Account,
    ) -> None:
        follows.follow(bob_account, alice_account)
        follows.follow(bob_account, charlie_account)
        build(bob_account)
        posts.post(alice_account, "from alice", visibility="public")
        from_charlie = posts.post(charlie_account, "from charlie", visibility="public")

        follows.unfollow(bob_account, alice_account)

        assert not redis_home.exists(home_key(bob_account.pk))
        assert [s.pk for s in selectors.home(bob_account)] == [from_charlie.pk]

        follows.block(bob_account, charlie_account)

        assert selectors.home(bob_account) == []

    def test_follow_backfills_a_built_home(
        self, redis_home: redis.Redis, alice_account: Account, bob_account: Account
    ) -> None:
        old = posts.post(alice_account, "old", visibility="public")
        build(bob_account)

        follows.follow(bob_account, alice_account)

        assert stored(redis_home, bob_account) == [old.pk]

    def test_mutes_are_applied_when_read(
        self,
        redis_home: redis.Redis,
        alice_account: Account,
        bob_account: Account,
        charlie_account: Account,
    ) -> None:
        follows.follow(bob_account, alice_account)
        follows.follow(bob_account, charlie_account)
        build(bob_account)
        shown = [posts.post(charlie_account, f"c{n}", visibility="public").pk for n in range(3)]
        for n in range(5):
            posts.post(alice_account, f"a{n}", visibility="public")
        follows.mute(bob_account, alice_account)

        assert [s.pk for s in selectors.home(bob_account, limit=2)] == shown[:0:-1]
        assert [s.pk for s in selectors.home(bob_account, min_id=0, limit=2)] == shown[1::-1]
        assert len(stored(redis_home, bob_account)) == 8


class TestRebuild:
    @pytest.mark.parametrize("limit", [3, 40])
    def test_after_a_flush_the_pages_are_the_same(
        self, redis_home: redis.Redis, busy: Account, limit: int
    ) -> None:
        build(busy)
        before = walk(busy, limit), walk_up(busy, limit)

        redis_home.flushall()

        assert (walk(busy, limit), walk_up(busy, limit)) == before
        assert before[0] == list(
            selectors.home_on_read(busy).order_by("-id").values_list("id", flat=True)
        )

    def test_a_home_being_built_expires_until_it_is_filled(
        self,
        redis_home: redis.Redis,
        busy: Account,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # While the posts are read the key would vanish if the worker died (no home left
        # looking built but empty); once filled, it is kept.
        store = timelines.store()
        assert isinstance(store, RedisStore)
        key = home_key(busy.pk)
        rebuild = store._rebuild
        seen: list[int] = []

        def watched(account: Account) -> list[int]:
            seen.append(cast("int", redis_home.ttl(key)))
            return rebuild(account)

        monkeypatch.setattr(store, "_rebuild", watched)
        store.build(busy)

        assert 0 < seen[0] <= BUILD_SECONDS
        assert redis_home.ttl(key) == -1  # no expiry: built
        assert stored(redis_home, busy)

    def test_a_build_that_fails_leaves_no_home(
        self, redis_home: redis.Redis, busy: Account, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        store = timelines.store()
        assert isinstance(store, RedisStore)

        def broken(**kwargs: Any) -> None:
            raise redis.ConnectionError("lost")

        monkeypatch.setattr(store, "_add", broken)
        with pytest.raises(redis.ConnectionError):
            store.build(busy)

        assert not redis_home.exists(home_key(busy.pk))

    def test_the_store_in_use_is_redis(self) -> None:
        assert isinstance(timelines.store(), RedisStore)


class TestSetting:
    def test_empty_is_the_database_store(self) -> None:
        assert load_config({"KINDWAVE_DEBUG": "true"}).redis_url == ""

    def test_a_redis_url_is_taken_and_anything_else_refused(self) -> None:
        url = "redis://127.0.0.1:6379/0"
        env = {"KINDWAVE_DEBUG": "true", "KINDWAVE_REDIS_URL": url}
        assert load_config(env).redis_url == url
        with pytest.raises(ConfigError, match="KINDWAVE_REDIS_URL") as refused:
            load_config({"KINDWAVE_DEBUG": "true", "KINDWAVE_REDIS_URL": "http://:s3cret@x"})
        assert "s3cret" not in str(refused.value)  # a URL may hold a password
