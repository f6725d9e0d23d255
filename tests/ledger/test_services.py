"""Every rule and refusal of the ledger services; on refusal nothing is written."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from kindwave.ledger import services
from kindwave.ledger.models import Account, Transfer, TransferState, balance
from kindwave.ledger.services import IdempotencyConflict, LedgerError, Leg


def totals(account: Account) -> tuple[int, int, int, int]:
    account.refresh_from_db()
    return (
        account.debits_posted,
        account.credits_posted,
        account.debits_pending,
        account.credits_pending,
    )


def snapshot() -> tuple[int, list[tuple[int, int, int, int]]]:
    return Transfer.objects.count(), [totals(a) for a in Account.objects.order_by("pk")]


# --- Accounts -----------------------------------------------------------------------------


def test_open_account_is_idempotent(books) -> None:
    again = services.open_account("operator:bank:GB", "Another name", "asset", "GBP")
    assert again.pk == books["bank"].pk
    assert again.name == "Bank (GB)"
    assert Account.objects.count() == 5


@pytest.mark.parametrize(
    ("kind", "currency"), [("liability", "GBP"), ("asset", "EUR")], ids=["kind", "currency"]
)
def test_open_account_refuses_another_kind_or_currency(books, kind, currency) -> None:
    with pytest.raises(LedgerError, match="already open"):
        services.open_account("operator:bank:GB", "Bank", kind, currency)


@pytest.mark.parametrize(
    ("code", "kind", "currency", "message"),
    [
        ("", "asset", "GBP", "needs a code"),
        ("x", "income", "GBP", "Unknown account kind"),
        ("x", "asset", "gbp", "ISO 4217"),
        ("x", "asset", "POUND", "ISO 4217"),
    ],
)
def test_open_account_refuses_bad_input(db, code, kind, currency, message) -> None:
    with pytest.raises(LedgerError, match=message):
        services.open_account(code, "Name", kind, currency)
    assert not Account.objects.exists()


def test_balance_follows_the_normal_side(books) -> None:
    services.transfer("t1", books["bank"], books["revenue"], 1_000, "GBP", "bill")
    books["bank"].refresh_from_db()
    books["revenue"].refresh_from_db()
    assert balance(books["bank"]) == 1_000
    assert balance(books["revenue"]) == 1_000
    services.transfer("t2", books["revenue"], books["cause"], 100, "GBP", "bill_share")
    books["revenue"].refresh_from_db()
    books["cause"].refresh_from_db()
    assert balance(books["revenue"]) == 900
    assert balance(books["cause"]) == 100


# --- Transfers ----------------------------------------------------------------------------


def test_transfer_moves_posted_totals(books) -> None:
    made = services.transfer(
        "bill:1", "operator:bank:GB", "operator:revenue:GB", 1_234, "GBP", "bill", "March"
    )
    assert made.state == TransferState.POSTED
    assert len(made.payload_sha256) == 64
    assert totals(books["bank"]) == (1_234, 0, 0, 0)
    assert totals(books["revenue"]) == (0, 1_234, 0, 0)
    assert services.verify().ok


def test_same_key_same_payload_is_a_no_op(books) -> None:
    first = services.transfer("bill:1", books["bank"], books["revenue"], 500, "GBP", "bill")
    again = services.transfer("bill:1", books["bank"], books["revenue"], 500, "GBP", "bill")
    assert again.pk == first.pk
    assert Transfer.objects.count() == 1
    assert totals(books["bank"]) == (500, 0, 0, 0)


@pytest.mark.parametrize(
    "change",
    [
        {"amount": 501},
        {"credit": "cause:wateraid:payable"},
        {"code": "refund"},
        {"description": "other"},
    ],
)
def test_same_key_other_payload_is_a_conflict(books, change) -> None:
    request = {
        "debit": "operator:bank:GB",
        "credit": "operator:revenue:GB",
        "amount": 500,
        "currency": "GBP",
        "code": "bill",
    }
    services.transfer("bill:1", **request)
    before = snapshot()
    with pytest.raises(IdempotencyConflict, match="bill:1"):
        services.transfer("bill:1", **{**request, **change})
    assert snapshot() == before


def test_a_reservation_key_cannot_be_replayed_as_a_transfer(books) -> None:
    services.reserve("r1", books["wallet"], books["revenue"], 100, "GBP", "carrier")
    with pytest.raises(IdempotencyConflict):
        services.transfer("r1", books["wallet"], books["revenue"], 100, "GBP", "carrier")


@pytest.mark.parametrize(
    ("debit", "credit", "amount", "currency", "message"),
    [
        ("bank", "revenue", 0, "GBP", "positive"),
        ("bank", "revenue", -5, "GBP", "positive"),
        ("bank", "revenue", 1.5, "GBP", "whole number"),
        ("bank", "revenue", True, "GBP", "whole number"),
        ("bank", "revenue", "100", "GBP", "whole number"),
        ("bank", "revenue", 10**16, "GBP", "above the limit"),
        ("bank", "revenue", 100, "EUR", "is in GBP, not EUR"),
        ("bank", "euros", 100, "GBP", "is in EUR, not GBP"),
        ("bank", "bank", 100, "GBP", "two different accounts"),
        ("bank", "revenue", 100, "gbp", "ISO 4217"),
    ],
)
def test_transfer_refuses_bad_input_and_writes_nothing(
    books, debit, credit, amount, currency, message
) -> None:
    before = snapshot()
    with pytest.raises(LedgerError, match=message):
        services.transfer("k", books[debit], books[credit], amount, currency, "bill")
    assert snapshot() == before


def test_transfer_refuses_unknown_account_empty_key_and_code(books) -> None:
    with pytest.raises(LedgerError, match="no ledger account nope"):
        services.transfer("k", "nope", books["revenue"], 1, "GBP", "bill")
    with pytest.raises(LedgerError, match="idempotency key"):
        services.transfer("", books["bank"], books["revenue"], 1, "GBP", "bill")
    with pytest.raises(LedgerError, match="code"):
        services.transfer("k", books["bank"], books["revenue"], 1, "GBP", "")
    assert not Transfer.objects.exists()


# --- Two-phase ----------------------------------------------------------------------------


def test_reserve_then_post(books) -> None:
    pending = services.reserve("cb:1", books["wallet"], books["revenue"], 300, "GBP", "carrier")
    assert pending.state == TransferState.PENDING
    assert totals(books["wallet"]) == (0, 0, 300, 0)
    assert totals(books["revenue"]) == (0, 0, 0, 300)
    posted = services.post_pending("cb:1:post", pending)
    assert posted.state == TransferState.POSTED
    assert posted.pending_of == pending
    assert totals(books["wallet"]) == (300, 0, 0, 0)
    assert totals(books["revenue"]) == (0, 300, 0, 0)
    assert services.post_pending("cb:1:post", pending).pk == posted.pk  # idempotent
    assert services.verify().ok


def test_reserve_then_void(books) -> None:
    pending = services.reserve("cb:1", books["wallet"], books["revenue"], 300, "GBP", "carrier")
    voided = services.void_pending("cb:1:void", pending)
    assert voided.state == TransferState.VOIDED
    assert totals(books["wallet"]) == (0, 0, 0, 0)
    assert totals(books["revenue"]) == (0, 0, 0, 0)
    assert services.verify().ok


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (services.post_pending, services.post_pending),
        (services.post_pending, services.void_pending),
        (services.void_pending, services.post_pending),
        (services.void_pending, services.void_pending),
    ],
)
def test_a_reservation_is_resolved_exactly_once(books, first, second) -> None:
    pending = services.reserve("cb:1", books["wallet"], books["revenue"], 300, "GBP", "carrier")
    first("cb:1:a", pending)
    before = snapshot()
    with pytest.raises(LedgerError, match="already been posted or voided"):
        second("cb:1:b", pending)
    assert snapshot() == before


def test_only_a_reservation_can_be_posted_or_voided(books) -> None:
    posted = services.transfer("t", books["bank"], books["revenue"], 1, "GBP", "bill")
    with pytest.raises(LedgerError, match="not a reservation"):
        services.post_pending("t:post", posted)
    with pytest.raises(LedgerError, match="not a reservation"):
        services.void_pending("t:void", posted)
    assert Transfer.objects.count() == 1


# --- Linked -------------------------------------------------------------------------------


def shares() -> list[Leg]:
    return [
        Leg("operator:bank:GB", "operator:revenue:GB", 1_000, "GBP", "bill"),
        Leg("operator:revenue:GB", "cause:wateraid:payable", 100, "GBP", "bill_share"),
    ]


def test_linked_legs_are_written_together(books) -> None:
    legs = services.transfer_linked("invoice:7", shares())
    assert [leg.idempotency_key for leg in legs] == ["invoice:7/1", "invoice:7/2"]
    assert legs[0].group is not None
    assert legs[0].group == legs[1].group
    books["revenue"].refresh_from_db()
    assert balance(books["revenue"]) == 900
    again = services.transfer_linked("invoice:7", shares())
    assert [leg.pk for leg in again] == [leg.pk for leg in legs]
    assert Transfer.objects.count() == 2


def test_linked_with_an_invalid_leg_writes_nothing(books) -> None:
    legs = [*shares(), Leg("operator:bank:GB", "operator:bank:FR", 5, "GBP", "oops")]
    before = snapshot()
    with pytest.raises(LedgerError, match="is in EUR"):
        services.transfer_linked("invoice:7", legs)
    assert snapshot() == before


def test_linked_refused_when_a_leg_key_is_taken_writes_nothing(books) -> None:
    services.transfer("invoice:7/2", books["bank"], books["wallet"], 1, "GBP", "taken")
    before = snapshot()
    with pytest.raises(IdempotencyConflict):
        services.transfer_linked("invoice:7", shares())
    assert snapshot() == before


def test_linked_key_with_other_legs_is_a_conflict(books) -> None:
    services.transfer_linked("invoice:7", shares())
    with pytest.raises(IdempotencyConflict):
        services.transfer_linked("invoice:7", shares()[:1])
    changed = shares()
    changed[1] = Leg("operator:revenue:GB", "cause:wateraid:payable", 99, "GBP", "bill_share")
    with pytest.raises(IdempotencyConflict):
        services.transfer_linked("invoice:7", changed)
    with pytest.raises(IdempotencyConflict):
        services.transfer_linked("invoice:7", [*shares(), shares()[1]])
    assert Transfer.objects.count() == 2


def test_linked_needs_a_leg(books) -> None:
    with pytest.raises(LedgerError, match="at least one leg"):
        services.transfer_linked("x", [])


# --- Reversal -----------------------------------------------------------------------------


def test_reverse_swaps_debit_and_credit(books) -> None:
    original = services.transfer("t", books["bank"], books["revenue"], 700, "GBP", "bill")
    correction = services.reverse("t:reverse", original)
    assert correction.reverses == original
    assert correction.debit_account == books["revenue"]
    assert correction.credit_account == books["bank"]
    assert totals(books["bank"]) == (700, 700, 0, 0)
    books["bank"].refresh_from_db()
    assert balance(books["bank"]) == 0
    assert services.reverse("t:reverse", original).pk == correction.pk
    with pytest.raises(LedgerError, match="already been reversed"):
        services.reverse("t:reverse-again", original)
    assert services.verify().ok


def test_pending_and_voided_transfers_cannot_be_reversed(books) -> None:
    pending = services.reserve("r", books["wallet"], books["revenue"], 5, "GBP", "carrier")
    with pytest.raises(LedgerError, match="Only a posted transfer"):
        services.reverse("r:reverse", pending)
    voided = services.void_pending("r:void", pending)
    with pytest.raises(LedgerError, match="Only a posted transfer"):
        services.reverse("r:void:reverse", voided)


# --- Verify -------------------------------------------------------------------------------


def test_verify_detects_a_tampered_balance_and_the_command_fails(books, capsys) -> None:
    services.transfer("t", books["bank"], books["revenue"], 700, "GBP", "bill")
    call_command("ledger", "verify", "--quiet")
    assert "The ledger verifies" in capsys.readouterr().out
    Account.objects.filter(pk=books["bank"].pk).update(debits_posted=701)
    result = services.verify()
    assert not result.ok
    assert [mismatch.code for mismatch in result.mismatches] == ["operator:bank:GB"]
    assert [t.balanced for t in result.currencies if t.currency == "GBP"] == [False]
    with pytest.raises(CommandError, match="does not verify"):
        call_command("ledger", "verify", "--quiet")
    assert "operator:bank:GB" in capsys.readouterr().err


def test_verify_detects_balanced_but_wrong_totals(books) -> None:
    services.transfer("t", books["bank"], books["revenue"], 700, "GBP", "bill")
    Account.objects.filter(pk=books["bank"].pk).update(debits_posted=800)
    Account.objects.filter(pk=books["revenue"].pk).update(credits_posted=800)
    result = services.verify()
    assert all(t.balanced for t in result.currencies)
    assert len(result.mismatches) == 2
    assert not result.ok


def test_verify_reports_progress(books) -> None:
    for number in range(3):
        services.transfer(f"t{number}", books["bank"], books["revenue"], 1, "GBP", "bill")
    calls: list[tuple[int, int]] = []
    assert services.verify(progress=lambda done, total: calls.append((done, total))).ok
    assert calls[-1] == (3, 3)


def test_accounts_command_lists_balances(books, capsys) -> None:
    services.transfer("t", books["bank"], books["revenue"], 700, "GBP", "bill")
    call_command("ledger", "accounts", "--currency", "gbp")
    out = capsys.readouterr().out
    assert "operator:bank:GB\tasset\tGBP\t700\t0\t0" in out
    assert "operator:bank:FR" not in out
    assert "4 accounts." in out
