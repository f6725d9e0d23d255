"""Dunning's timeline: a reminder, then a suspension, then reactivation on payment —
each step once, through the line's state machine."""

from __future__ import annotations

from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core import mail
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction
from django.test import TestCase

from kindwave.billing.models import DunningStep, Invoice
from kindwave.billing.services import dunning
from kindwave.ledger import services as ledger
from kindwave.lines import services as lines
from kindwave.lines.models import Line, LineState
from tests.billing.factories import make_invoice
from tests.billing.test_payments import issue, pay

pytestmark = pytest.mark.django_db

# make_invoice's March invoice is issued on 1 April and due on 15 April; with the default
# settings the reminder is due 3 days later and the suspension 14 days later.
DUE_PLUS_2 = datetime(2026, 4, 17, 9, 0, tzinfo=UTC)
REMINDER_DAY = datetime(2026, 4, 18, 9, 0, tzinfo=UTC)
SUSPENSION_DAY = datetime(2026, 4, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def invoice(active_line: Line) -> Invoice:
    return issue(make_invoice(active_line))


def run(at: datetime) -> dunning.DunningSummary:
    """A dunning run whose after-commit actions (the reminder e-mails) happen, as they do
    outside a test's wrapping transaction."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return dunning.run_dunning(at)


def steps(invoice: Invoice) -> list[str]:
    return list(invoice.dunning.order_by("at", "id").values_list("step", flat=True))


def state(line: Line) -> str:
    line.refresh_from_db()
    return line.state


class TestTimeline:
    def test_reminder_suspension_and_reactivation_each_once(
        self, invoice: Invoice, active_line: Line
    ) -> None:
        assert run(DUE_PLUS_2).reminders == 0
        assert mail.outbox == []

        summary = run(REMINDER_DAY)

        assert (summary.overdue, summary.reminders, summary.suspensions) == (1, 1, 0)
        (message,) = mail.outbox
        assert message.to == ["alice@example.org"]
        assert invoice.number in message.subject
        assert "£12.00" in message.body
        assert f"/me/bills/{invoice.number}/" in message.body
        assert run(REMINDER_DAY).reminders == 0  # once only
        assert len(mail.outbox) == 1

        summary = run(SUSPENSION_DAY)

        assert (summary.reminders, summary.suspensions) == (0, 1)
        assert state(active_line) == LineState.SUSPENDED
        change = active_line.state_changes.order_by("-at", "-id").first()
        assert change is not None
        assert change.reason == f"unpaid invoice {invoice.number}"
        assert run(SUSPENSION_DAY).suspensions == 0

        pay(invoice)

        assert state(active_line) == LineState.ACTIVE
        assert steps(invoice) == ["reminder", "suspension", "reactivation"]
        assert run(SUSPENSION_DAY) == dunning.DunningSummary()
        assert ledger.verify().ok

    def test_the_reminder_is_in_the_subscribers_language(
        self, invoice: Invoice, active_line: Line
    ) -> None:
        active_line.owner.language = "fr"
        active_line.owner.save(update_fields=["language"])

        run(REMINDER_DAY)

        assert "12,00\xa0£GB" in mail.outbox[0].body

    def test_a_payment_before_the_deadline_stops_everything(
        self, invoice: Invoice, active_line: Line
    ) -> None:
        pay(invoice)

        assert run(SUSPENSION_DAY).overdue == 0
        assert mail.outbox == []
        assert state(active_line) == LineState.ACTIVE

    def test_a_partial_payment_keeps_the_line_suspended(
        self, invoice: Invoice, active_line: Line
    ) -> None:
        run(SUSPENSION_DAY)

        pay(invoice, "e1", 600)

        assert state(active_line) == LineState.SUSPENDED
        pay(invoice, "e2", 600)
        assert state(active_line) == LineState.ACTIVE

    def test_another_overdue_invoice_keeps_the_line_suspended(
        self, invoice: Invoice, active_line: Line
    ) -> None:
        april = issue(make_invoice(active_line, "2026-04"))  # due 15 May
        run(datetime(2026, 5, 20, tzinfo=UTC))
        assert steps(april) == ["reminder"]  # the line is already suspended for March

        pay(invoice)
        assert state(active_line) == LineState.SUSPENDED  # April is overdue too

        pay(april, "e2")
        assert state(active_line) == LineState.ACTIVE
        assert steps(invoice)[-1] == "reactivation"

    def test_a_line_suspended_for_another_reason_is_not_resumed(
        self, invoice: Invoice, active_line: Line
    ) -> None:
        lines.suspend_line(active_line, "lost phone", at=datetime(2026, 4, 20, tzinfo=UTC))

        run(SUSPENSION_DAY)
        pay(invoice)

        assert state(active_line) == LineState.SUSPENDED
        assert steps(invoice) == ["reminder"]

    def test_a_run_dated_before_the_lines_last_change_skips_the_suspension(
        self, invoice: Invoice, active_line: Line
    ) -> None:
        later = datetime(2026, 5, 1, tzinfo=UTC)
        lines.suspend_line(active_line, "lost phone", at=later)
        lines.resume_line(active_line, "found it", at=later)

        summary = run(SUSPENSION_DAY)

        assert summary.skipped == [invoice.number]
        assert state(active_line) == LineState.ACTIVE
        assert DunningStep.objects.filter(step="suspension").count() == 0


class TestUnderTheLock:
    def test_an_invoice_paid_since_it_was_listed_is_left_alone(
        self, invoice: Invoice, active_line: Line
    ) -> None:
        (listed,) = dunning.overdue_invoices(today=SUSPENSION_DAY.date())
        pay(invoice)  # the payment lands between the listing and the steps

        with TestCase.captureOnCommitCallbacks(execute=True):
            assert dunning.send_reminder(listed, SUSPENSION_DAY) is False
            assert dunning.suspend_for(listed, SUSPENSION_DAY) is False

        assert mail.outbox == []
        assert steps(invoice) == []
        assert state(active_line) == LineState.ACTIVE

    def test_the_reminder_is_mailed_only_after_the_commit(self, invoice: Invoice) -> None:
        with TestCase.captureOnCommitCallbacks(execute=False) as after_commit:
            assert dunning.send_reminder(invoice, REMINDER_DAY) is True
            assert mail.outbox == []  # recorded, not yet sent

        assert steps(invoice) == ["reminder"]
        (send,) = after_commit
        send()
        assert len(mail.outbox) == 1

    def test_a_rolled_back_reminder_sends_nothing(self, invoice: Invoice) -> None:
        with TestCase.captureOnCommitCallbacks(execute=True), transaction.atomic():
            dunning.send_reminder(invoice, REMINDER_DAY)
            transaction.set_rollback(True)

        assert (mail.outbox, steps(invoice)) == ([], [])


class TestCommand:
    def test_dunning_as_at_a_date(self, invoice: Invoice, active_line: Line) -> None:
        out = StringIO()

        with TestCase.captureOnCommitCallbacks(execute=True):
            call_command("billing", "dunning", "--at", "2026-04-29", "--quiet", stdout=out)

        assert "1 overdue invoices: 1 reminders sent, 1 lines suspended" in out.getvalue()
        assert state(active_line) == LineState.SUSPENDED

    @pytest.mark.parametrize("text", ["yesterday", "2026-13-01"])
    def test_a_bad_date_is_refused(self, db, text: str) -> None:
        with pytest.raises(CommandError, match="ISO 8601"):
            call_command("billing", "dunning", "--at", text, "--quiet")


def test_instants_are_read_as_utc() -> None:
    from kindwave.billing.cli.dunning import parse_instant

    assert parse_instant("2026-04-29") == datetime(2026, 4, 29, tzinfo=UTC)
    assert parse_instant("2026-04-29T10:00") == datetime(2026, 4, 29, 10, tzinfo=UTC)
    assert parse_instant("2026-04-29T10:00Z") == datetime(2026, 4, 29, 10, tzinfo=UTC)
