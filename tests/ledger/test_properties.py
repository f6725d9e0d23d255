"""After any sequence of transfers, reservations, posts, voids, reversals, linked transfers
and replays, the books balance and the stored totals are the ones recomputed from the
transfers (and those an independent model of the rules expects)."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kindwave.ledger import services
from kindwave.ledger.models import Account, Transfer, TransferState
from kindwave.ledger.services import LedgerError, Leg

CODES = ["gb:bank", "gb:revenue", "gb:cause", "fr:bank", "fr:revenue"]
CURRENCY = {"gb": "GBP", "fr": "EUR"}
account = st.sampled_from(CODES)
amount = st.integers(-2, 10_000)
currency = st.sampled_from(["GBP", "EUR"])
index = st.integers(0, 40)
operation = st.one_of(
    st.tuples(st.just("transfer"), account, account, amount, currency),
    st.tuples(st.just("reserve"), account, account, amount, currency),
    st.tuples(st.just("post"), index),
    st.tuples(st.just("void"), index),
    st.tuples(st.just("reverse"), index),
    st.tuples(st.just("replay"), index),
    st.tuples(
        st.just("linked"),
        st.lists(st.tuples(account, account, amount, currency), min_size=1, max_size=4),
    ),
)


def stored() -> dict[str, tuple[int, ...]]:
    return {
        a.code: (a.debits_posted, a.credits_posted, a.debits_pending, a.credits_pending)
        for a in Account.objects.all()
    }


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(operation, max_size=30))
def test_the_books_always_balance(db, operations) -> None:
    with transaction.atomic():
        for code in CODES:
            kind = "asset" if code.endswith("bank") else "revenue"
            services.open_account(code, code, kind, CURRENCY[code[:2]])
        expected: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        made: list[Transfer] = []

        def apply(transfer: Transfer) -> None:
            debit = expected[transfer.debit_account.code]
            credit = expected[transfer.credit_account.code]
            if transfer.pending_of_id is not None:
                debit[2] -= transfer.amount
                credit[3] -= transfer.amount
            if transfer.state == TransferState.POSTED:
                debit[0] += transfer.amount
                credit[1] += transfer.amount
            elif transfer.state == TransferState.PENDING:
                debit[2] += transfer.amount
                credit[3] += transfer.amount

        for number, (kind, *args) in enumerate(operations):
            key = f"op{number}"
            before = (Transfer.objects.count(), stored())
            try:
                if kind in ("transfer", "reserve"):
                    action = services.transfer if kind == "transfer" else services.reserve
                    new = [action(key, *args, code=kind)]
                elif kind == "linked":
                    legs = [Leg(*leg, code="leg") for leg in args[0]]
                    new = services.transfer_linked(key, legs)
                elif not made:
                    continue
                else:
                    target = made[args[0] % len(made)]
                    if kind == "post":
                        new = [services.post_pending(key, target)]
                    elif kind == "void":
                        new = [services.void_pending(key, target)]
                    elif kind == "reverse":
                        new = [services.reverse(key, target)]
                    else:
                        again = _replay(target)
                        assert again.pk == target.pk
                        assert (Transfer.objects.count(), stored()) == before
                        continue
            except LedgerError:
                assert (Transfer.objects.count(), stored()) == before
                continue
            for transfer in new:
                apply(transfer)
            made.extend(new)

        result = services.verify()
        assert result.ok, result
        assert stored() == {code: tuple(expected[code]) for code in CODES}
        for totals in result.currencies:
            assert totals.debits_posted == totals.credits_posted
            assert totals.debits_pending == totals.credits_pending
        transaction.set_rollback(True)


def _replay(original: Transfer) -> Transfer:
    """Submit ``original`` again with its own key and payload."""
    leg = (
        original.debit_account,
        original.credit_account,
        original.amount,
        original.currency,
        original.code,
        original.description,
    )
    if original.group is not None:
        key, _, _ = original.idempotency_key.rpartition("/")
        legs = Transfer.objects.filter(group=original.group).order_by("pk")
        again = services.transfer_linked(
            key,
            [Leg(t.debit_account, t.credit_account, t.amount, t.currency, t.code) for t in legs],
        )
        return next(t for t in again if t.pk == original.pk)
    if original.pending_of is not None:
        resolve = (
            services.post_pending
            if original.state == TransferState.POSTED
            else services.void_pending
        )
        return resolve(original.idempotency_key, original.pending_of)
    if original.reverses is not None:
        return services.reverse(
            original.idempotency_key, original.reverses, description=original.description
        )
    if original.state == TransferState.PENDING:
        return services.reserve(original.idempotency_key, *leg)
    return services.transfer(original.idempotency_key, *leg)
