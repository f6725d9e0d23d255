"""The bulk path, ``transfer_batch``: the same transfers and balances as posting each group
with ``transfer_linked``, the same idempotency and refusals, and the books balance."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindwave.ledger import services
from kindwave.ledger.models import Account, Transfer
from kindwave.ledger.services import IdempotencyConflict, LedgerError, Leg

CODES = ["gb:bank", "gb:revenue", "gb:cause", "fr:bank", "fr:revenue"]
CURRENCY = {"gb": "GBP", "fr": "EUR"}


def open_books() -> None:
    for code in CODES:
        kind = "asset" if code.endswith("bank") else "revenue"
        services.open_account(code, code, kind, CURRENCY[code[:2]])


def snapshot() -> tuple[list[tuple[object, ...]], dict[str, tuple[int, ...]]]:
    transfers = list(
        Transfer.objects.order_by("idempotency_key").values_list(
            "idempotency_key",
            "debit_account__code",
            "credit_account__code",
            "amount",
            "currency",
            "code",
            "description",
            "state",
            "group",
            "payload_sha256",
        )
    )
    totals = {
        a.code: (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
        for a in Account.objects.all()
    }
    return transfers, totals


market = st.sampled_from(["gb", "fr"])


@st.composite
def leg(draw: st.DrawFn) -> Leg:
    prefix = draw(market)
    debit, credit = draw(
        st.lists(
            st.sampled_from([c for c in CODES if c.startswith(prefix)]),
            min_size=2,
            max_size=2,
            unique=True,
        )
    )
    return Leg(debit, credit, draw(st.integers(1, 10**6)), CURRENCY[prefix], "bill-share")


groups_strategy = st.lists(
    st.tuples(st.integers(0, 30).map(lambda n: f"g{n}"), st.lists(leg(), min_size=1, max_size=5)),
    max_size=25,
    unique_by=lambda group: group[0],
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(groups=groups_strategy, replayed=st.integers(0, 25))
def test_batch_and_one_by_one_write_the_same_transfers_and_balances(db, groups, replayed) -> None:
    # Given the same books, posted group by group …
    with transaction.atomic():
        open_books()
        for key, legs in groups:
            services.transfer_linked(key, legs)
        one_by_one = snapshot()
        transaction.set_rollback(True)
    # … and in one batch, some of which were already posted (a resumed job)
    with transaction.atomic():
        open_books()
        for key, legs in groups[:replayed]:
            services.transfer_linked(key, legs)
        written = services.transfer_batch(groups)
        batched = snapshot()
        again = services.transfer_batch(groups)
        verified = services.verify()
        transaction.set_rollback(True)
    # Then the transfers and totals are identical, the replay writes nothing, books balance
    assert batched == one_by_one
    assert written == sum(len(legs) for _key, legs in groups[replayed:])
    assert again == 0
    assert verified.ok


@pytest.fixture
def books(db) -> None:
    open_books()


def test_a_conflicting_key_refuses_the_whole_batch(books) -> None:
    services.transfer_linked("bill:1", [Leg("gb:bank", "gb:revenue", 100, "GBP", "x")])
    before = snapshot()
    with pytest.raises(IdempotencyConflict):
        services.transfer_batch(
            [
                ("bill:0", [Leg("gb:bank", "gb:revenue", 5, "GBP", "x")]),
                ("bill:1", [Leg("gb:bank", "gb:revenue", 101, "GBP", "x")]),
            ]
        )
    assert snapshot() == before


def test_a_key_used_by_a_single_transfer_is_a_conflict(books) -> None:
    services.transfer("bill:2/1", "gb:bank", "gb:revenue", 100, "GBP", "x")
    with pytest.raises(IdempotencyConflict):
        services.transfer_batch(
            [
                (
                    "bill:2",
                    [
                        Leg("gb:bank", "gb:revenue", 100, "GBP", "x"),
                        Leg("gb:bank", "gb:cause", 1, "GBP", "x"),
                    ],
                )
            ]
        )


@pytest.mark.parametrize(
    ("groups", "message"),
    [
        ([("k", [Leg("gb:bank", "gb:revenue", 0, "GBP", "x")])], "positive"),
        ([("k", [Leg("gb:bank", "fr:bank", 10, "GBP", "x")])], "EUR"),
        ([("k", [Leg("gb:bank", "nowhere", 10, "GBP", "x")])], "no ledger account"),
        ([("k", [])], "at least one leg"),
        (
            [
                ("k", [Leg("gb:bank", "gb:revenue", 1, "GBP", "x")]),
                ("k", [Leg("gb:bank", "gb:revenue", 1, "GBP", "x")]),
            ],
            "twice",
        ),
    ],
)
def test_bad_legs_are_refused_before_anything_is_written(books, groups, message) -> None:
    good = ("fine", [Leg("gb:bank", "gb:revenue", 10, "GBP", "x")])
    with pytest.raises(LedgerError, match=message):
        services.transfer_batch([good, *groups])
    assert not Transfer.objects.exists()


def test_an_empty_batch_writes_nothing(books) -> None:
    assert services.transfer_batch([]) == 0


@given(
    texts=st.lists(st.text(), min_size=7, max_size=7),
    amount=st.integers(1, 10**15),
    legs=st.integers(1, 50),
    resolved=st.none() | st.text(),
)
def test_the_payload_hash_is_that_of_the_canonical_json(texts, amount, legs, resolved) -> None:
    debit, credit, currency, code, description, state, reverses = texts
    values = {
        "debit": debit,
        "credit": credit,
        "amount": amount,
        "currency": currency,
        "code": code,
        "description": description,
        "state": state,
        "pending_of": resolved,
        "reverses": reverses,
        "legs": legs,
    }
    canonical = json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert services._payload(**values) == hashlib.sha256(canonical.encode()).hexdigest()
