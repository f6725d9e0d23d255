"""Dunning: what happens to an invoice left unpaid after its due date.

An open invoice (something outstanding) is *overdue* from the day after its due date.
``REMINDER_AFTER_DAYS`` days after the due date the subscriber gets a reminder by e-mail,
in their language; ``SUSPEND_AFTER_DAYS`` days after it the line is suspended through the
line's state machine (reason ``unpaid invoice <number>``). When a payment leaves the
line with nothing overdue, a line that dunning suspended is resumed. Each step is a
``DunningStep``, at most once per invoice, so :func:`run_dunning` can run any number of
times (docs/billing-payments.md, "Dunning").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import cast

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import F
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from kindwave.billing.models import DunningStep, Invoice
from kindwave.lib.money import format_money
from kindwave.lines import services as lines
from kindwave.lines.models import Line, LineState, LineStateChange

#: The reason dunning gives a suspension; stored in English like every system reason.
SUSPENSION_REASON = "unpaid invoice {number}"
_SUSPENSION_PREFIX = SUSPENSION_REASON.split("{", 1)[0]


@dataclass
class DunningSummary:
    """What one run did; ``skipped`` names invoices whose line could not be suspended."""

    overdue: int = 0
    reminders: int = 0
    suspensions: int = 0
    reactivations: int = 0
    skipped: list[str] = field(default_factory=list)


def days_overdue(invoice: Invoice, today: date) -> int:
    """Whole days since the due date (0 or less: not overdue yet)."""
    return (today - invoice.due_on).days


def overdue_invoices(line: Line | None = None, today: date | None = None) -> list[Invoice]:
    """Open invoices with something outstanding whose due date has passed (of one line,
    or all), oldest due first."""
    today = today or timezone.now().date()
    found = Invoice.objects.filter(
        status=Invoice.Status.OPEN, due_on__lt=today, total_minor__gt=F("paid_minor")
    )
    if line is not None:
        found = found.filter(line=line)
    return list(found.select_related("owner", "line").order_by("due_on", "number"))


def run_dunning(
    at: datetime | None = None, progress: Callable[[int, int], None] | None = None
) -> DunningSummary:
    """Take every dunning step due at ``at`` (default now): reminders, suspensions, and
    reactivations of lines dunning suspended that have nothing overdue any more.
    Each step at most once per invoice; safe to re-run and to resume after a crash
    (each invoice's step is its own transaction). For the staff job."""
    at = at or timezone.now()
    today = at.date()
    remind_after = cast(int, settings.BILLING["REMINDER_AFTER_DAYS"])
    suspend_after = cast(int, settings.BILLING["SUSPEND_AFTER_DAYS"])
    summary = DunningSummary()
    invoices = overdue_invoices(today=today)
    summary.overdue = len(invoices)
    for done, invoice in enumerate(invoices, start=1):
        days = days_overdue(invoice, today)
        if days >= max(remind_after, 1) and send_reminder(invoice, at):
            summary.reminders += 1
        if days >= suspend_after:
            suspended = suspend_for(invoice, at)
            if suspended is None:
                summary.skipped.append(invoice.number)
            elif suspended:
                summary.suspensions += 1
        if progress is not None:
            progress(done, len(invoices))
    for line in Line.objects.filter(state=LineState.SUSPENDED).order_by("pk"):
        if reactivate_if_settled(line, at=at):
            summary.reactivations += 1
    return summary


def _reminder_text(invoice: Invoice) -> tuple[str, str]:
    amount = format_money(invoice.outstanding_minor, invoice.currency, invoice.owner.language)
    subject = _("Reminder: your Kindwave bill %(number)s is unpaid") % {"number": invoice.number}
    body = _(
        "Hello %(name)s,\n\n"
        "Your bill %(number)s for the number %(msisdn)s was due on %(due)s and %(amount)s "
        "is still unpaid. Please pay it from your bills page: %(url)s\n\n"
        "If the bill stays unpaid %(days)s days after its due date, the line will be "
        "suspended until it is paid. If you have paid in the last few days, thank you, "
        "and please ignore this message.\n\n"
        "Kindwave"
    ) % {
        "name": invoice.customer_name,
        "number": invoice.number,
        "msisdn": invoice.msisdn,
        "due": date_format(invoice.due_on, "DATE_FORMAT"),
        "amount": amount,
        "url": settings.SITE_URL + reverse("billing:bill", args=[invoice.number]),
        "days": settings.BILLING["SUSPEND_AFTER_DAYS"],
    }
    return subject, body


def _still_owed(locked: Invoice) -> bool:
    """Whether the invoice, read under its row lock, still calls for dunning: a payment
    may have landed since the run listed it."""
    return locked.status == Invoice.Status.OPEN and locked.outstanding_minor > 0


def send_reminder(invoice: Invoice, at: datetime) -> bool:
    """E-mail the reminder for ``invoice`` in the subscriber's language, once. Re-checks
    under the invoice's row lock that something is still owed (False otherwise). The step
    is recorded in the transaction, the mail sent after its commit: a crash or a mail
    failure between the two loses this reminder rather than ever sending two (failures
    are logged). True if recorded now."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().select_related("owner").get(pk=invoice.pk)
        if not _still_owed(locked):
            return False
        if DunningStep.objects.filter(invoice=locked, step=DunningStep.Step.REMINDER).exists():
            return False
        DunningStep.objects.create(invoice=locked, step=DunningStep.Step.REMINDER, at=at)
        with translation.override(locked.owner.language or locked.language):
            subject, body = _reminder_text(locked)
        recipient = locked.owner.email
        transaction.on_commit(
            lambda: send_mail(subject, body, None, [recipient]),
            robust=True,  # a mail failure is logged; the run goes on to the next invoice
        )
    return True


def suspend_for(invoice: Invoice, at: datetime) -> bool | None:
    """Suspend the invoice's line for non-payment, once per invoice. True if suspended
    now, False if already done, if the invoice was paid since it was listed (re-checked
    under its row lock) or the line is not active (suspended for another reason,
    terminated: nothing to do), None if the line's history forbids a suspension dated
    ``at`` (a later change is recorded)."""
    with transaction.atomic():
        locked = Invoice.objects.select_for_update().get(pk=invoice.pk)
        if not _still_owed(locked):
            return False
        if DunningStep.objects.filter(invoice=locked, step=DunningStep.Step.SUSPENSION).exists():
            return False
        line = Line.objects.select_for_update().get(pk=locked.line_id)
        if line.state != LineState.ACTIVE:
            return False
        try:
            lines.suspend_line(line, SUSPENSION_REASON.format(number=locked.number), at=at)
        except lines.LinesError:
            return None
        DunningStep.objects.create(invoice=locked, step=DunningStep.Step.SUSPENSION, at=at)
    return True


def _dunning_suspension(line: Line) -> Invoice | None:
    """The invoice whose non-payment suspended ``line``, if its latest state change is a
    suspension made by dunning (recorded as a step); None otherwise."""
    change = LineStateChange.objects.filter(line=line).order_by("-at", "-id").first()
    if (
        change is None
        or change.to_state != LineState.SUSPENDED
        or not change.reason.startswith(_SUSPENSION_PREFIX)
    ):
        return None
    number = change.reason[len(_SUSPENSION_PREFIX) :]
    return Invoice.objects.filter(
        line=line, number=number, dunning__step=DunningStep.Step.SUSPENSION
    ).first()


def reactivate_if_settled(line: Line, at: datetime | None = None) -> bool:
    """Resume ``line`` if dunning suspended it and none of its invoices is overdue any
    more; record a ``reactivation`` step on the invoice that caused the suspension.
    Lines suspended for another reason are left alone. The resumption is dated ``at``
    (default now), never before the suspension. Atomic; True if resumed now."""
    at = at or timezone.now()
    with transaction.atomic():
        locked = Line.objects.select_for_update().get(pk=line.pk)
        if locked.state != LineState.SUSPENDED:
            return False
        cause = _dunning_suspension(locked)
        if cause is None or overdue_invoices(locked, today=at.date()):
            return False
        when = max(at, locked.state_changed_at)
        lines.resume_line(locked, f"invoice {cause.number} paid", at=when)
        DunningStep.objects.get_or_create(
            invoice=cause, step=DunningStep.Step.REACTIVATION, defaults={"at": when}
        )
    line.state, line.state_changed_at = locked.state, locked.state_changed_at
    return True
