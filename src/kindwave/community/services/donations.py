"""Donations with no commission: a gift to a cause (and maybe one of its projects),
charged to the phone bill or to a card. 100 % of the amount reaches the cause's ledger
account; a card processor's fee is the operator's expense (``operator:payment-fees``),
never taken from the gift. See docs/donations.md.

* **Phone bill.** :func:`donate_by_phone_bill` reserves a carrier-billing charge
  (``kind="donation"``: a pending transfer Dr ``operator:unbilled`` Cr ``cause:ID``) and
  returns a *pending* donation; :func:`confirm_phone_bill_donation` confirms the charge
  (the one confirmation), completes the donation and adds to the project's
  ``raised_minor``, all in one transaction. Carrier billing already credits the cause
  in full, so nothing else is posted.
* **Card.** :func:`donate_by_card` writes the donation *pending* and commits, asks the
  card processor, then completes it and posts, in one transaction, Dr ``operator:bank``
  Cr ``cause:ID`` the whole amount (code ``donation``, key ``donation:<reference>``) and
  the fee Dr ``operator:payment-fees`` Cr ``operator:bank`` (code ``payment-fee``, key
  ``donation:<reference>:fee``). A decline fails it; nothing is posted.

A refusal raises :class:`DonationError` with the reason, and nothing is written. Someone
else's donation is refused exactly like a missing one (:class:`DonationNotFound`).
The receipt is e-mailed after the commit (:func:`send_receipt`).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from kindwave.accounts.models import User
from kindwave.billing.models import CarrierCharge
from kindwave.billing.services import carrier
from kindwave.billing.services.payments.card import (
    ATTEMPT_METADATA,
    STALE_AFTER_MINUTES,
    CardCharge,
    CardDeclined,
    CardProcessor,
    CardProviderError,
)
from kindwave.billing.services.payments.core import PaymentError
from kindwave.causes.models import Cause
from kindwave.community import giftaid
from kindwave.community.giftaid import GiftAidDeclaration, GiftAidError
from kindwave.community.models import Donation, Project, Status
from kindwave.community.services.projects import CURRENCIES, ended_message, is_open
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.lib.money import format_money
from kindwave.lines.models import LineState
from kindwave.lines.selectors import lines_of

logger = logging.getLogger(__name__)

#: The largest single donation, in minor units (10,000.00 in any currency), unless
#: ``settings.COMMUNITY["DONATION_MAX_MINOR"]`` says otherwise. Larger gifts are rare,
#: are a fraud signal on a phone bill or a new card, and a charity takes them directly.
DEFAULT_MAX_MINOR = 1_000_000


class DonationError(Exception):
    """A donation request that cannot be honoured; the message says why."""


class DonationNotFound(DonationError):  # noqa: N818 - reads as what happened
    """No such donation among the acting donor's own (someone else's looks the same)."""


class DonationKeyReused(DonationError):  # noqa: N818 - reads as what happened
    """The request's key was already used for a different donation. The message is for the
    donor and names no key; ``key`` keeps it for the caller (an API answer, a log)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            _(
                "This donation form was already sent for a different gift. Nothing more was "
                "charged; check the amount and send the form again."
            )
        )
        self.key = key


class PhoneBillUnavailable(DonationError):  # noqa: N818 - reads as what happened
    """No gift on the phone bill can be made here, whatever the amount. ``reason`` says which
    case it is, for a page to offer the way out: ``"ended"`` (the project's deadline
    passed), ``"no_line"`` (no active Kindwave line), ``"currency"`` (the project raises
    money in a currency none of the donor's lines bills in) or ``"switched_off"`` (the
    donor switched off charges to their bill)."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def max_donation_minor() -> int:
    """The per-donation maximum in minor units."""
    community = getattr(settings, "COMMUNITY", None) or {}
    return cast(int, community.get("DONATION_MAX_MINOR", DEFAULT_MAX_MINOR))


@dataclass(frozen=True)
class PhoneBillTerms:
    """What a gift on the donor's phone bill is made in: its ``currency``, how much more the
    bill can take this month in it (``left_minor``) and the per-donation ``max_minor``."""

    currency: str
    left_minor: int
    max_minor: int


def phone_bill_terms(
    user: User, *, cause: Cause, project: Project | None = None, at: datetime | None = None
) -> PhoneBillTerms:
    """The terms of a gift on ``user``'s phone bill to ``cause`` (for ``project``), before any
    amount is typed, so a page can say why no gift is possible instead of offering a form
    that can only be refused.

    The currency is the project's; for the cause itself it is the currency of the donor's
    oldest active line (the line carrier billing charges first): a cause's ledger account
    is kept in each currency Kindwave bills in (``cause:ID:GBP``, ``…:EUR``, ``…:USD``), so a
    cause can receive any of them. Raises :class:`PhoneBillUnavailable`, in the words
    :func:`donate_by_phone_bill` refuses with: the project has ended, the donor has no
    active line, no line of theirs bills in the project's currency, charges to their bill
    are switched off. Reads only."""
    if project is not None and not is_open(project):
        raise PhoneBillUnavailable(ended_message(project), "ended")
    currencies: list[str] = []
    for line in lines_of(user).filter(state=LineState.ACTIVE):
        if line.market.currency not in currencies:
            currencies.append(line.market.currency)
    if not currencies:
        raise PhoneBillUnavailable(
            _("A gift on the phone bill needs an active Kindwave line, and you have none."),
            "no_line",
        )
    currency = currencies[0] if project is None else project.currency
    if currency not in currencies:
        raise PhoneBillUnavailable(
            _(
                "This project raises money in %(currency)s and your phone bill is in "
                "%(line_currencies)s, so a gift to it cannot go on your phone bill."
            )
            % {"currency": currency, "line_currencies": ", ".join(currencies)},
            "currency",
        )
    terms = carrier.limit_for(user)
    if not terms.enabled:
        raise PhoneBillUnavailable(
            _("You have switched off charges to your phone bill; switch them on first."),
            "switched_off",
        )
    at = at or timezone.now()
    spent = carrier.spent_in_month(user, carrier.month_of(at), currency, at=at)
    return PhoneBillTerms(
        currency=currency,
        left_minor=max(terms.monthly_limit_minor - spent, 0),
        max_minor=max_donation_minor(),
    )


@dataclass(frozen=True)
class _Gift:
    """A donation request that passed :func:`_check` (the declaration cleaned)."""

    cause: Cause
    project: Project | None
    amount_minor: int
    currency: str
    declaration: GiftAidDeclaration | None
    via_status: Status | None


def _check(
    *,
    cause: Cause,
    project: Project | None,
    amount_minor: int,
    currency: str,
    gift_aid: GiftAidDeclaration | None,
    via_status: Status | None,
) -> _Gift:
    """Refuse a request that cannot be a donation; returns it checked, its Gift Aid
    declaration cleaned."""
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise DonationError(
            _("A donation must be a positive whole number of minor units, not %(amount)r.")
            % {"amount": amount_minor}
        )
    if currency not in CURRENCIES:
        raise DonationError(
            _("%(currency)r is not a currency a cause's account can hold.") % {"currency": currency}
        )
    limit = max_donation_minor()
    if amount_minor > limit:
        raise DonationError(
            _("A single donation can be at most %(limit)s.")
            % {"limit": format_money(limit, currency, translation.get_language() or "en")}
        )
    if not cause.is_verified:
        raise DonationError(
            _("%(cause)s is not verified, so it cannot receive donations yet.")
            % {"cause": cause.name}
        )
    if project is not None:
        if project.cause_id != cause.pk:
            raise DonationError(
                _("The project %(title)s raises money for another cause.")
                % {"title": project.title}
            )
        if project.currency != currency:
            raise DonationError(
                _("The project %(title)s raises money in %(currency)s.")
                % {"title": project.title, "currency": project.currency}
            )
        if not is_open(project):
            raise DonationError(ended_message(project))
    declaration = None
    if gift_aid is not None:
        try:
            declaration = giftaid.check_declaration(gift_aid, cause=cause, currency=currency)
        except GiftAidError as error:
            raise DonationError(str(error)) from None
    return _Gift(cause, project, amount_minor, currency, declaration, via_status)


def _gift_aid_fields(gift: _Gift) -> dict[str, object]:
    declaration = gift.declaration
    if declaration is None:
        return {"gift_aid": False}
    first, last = declaration.first_name, declaration.last_name
    return {
        "gift_aid": True,
        "gift_aid_title": declaration.title,
        "gift_aid_first_name": first,
        "gift_aid_last_name": last,
        "gift_aid_name": " ".join(p for p in (declaration.title, first, last) if p),
        "gift_aid_house": declaration.house,
        "gift_aid_address": declaration.address,
        "gift_aid_postcode": declaration.postcode,
        # The wording is kept in English, as HMRC publishes it, with the amount in pounds.
        "gift_aid_statement": giftaid.declaration_text(
            format_money(gift.amount_minor, "GBP", "en"), gift.cause.name
        ),
        "gift_aid_declared_at": timezone.now(),
    }


def _same_request(donation: Donation, gift: _Gift) -> bool:
    fields = _gift_aid_fields(gift)
    return (
        donation.cause_id == gift.cause.pk
        and donation.project_id == (gift.project.pk if gift.project else None)
        and donation.amount_minor == gift.amount_minor
        and donation.currency == gift.currency
        and all(
            getattr(donation, name) == value
            for name, value in fields.items()
            if name != "gift_aid_declared_at"
        )
    )


def _new_donation(user: User, gift: _Gift, **method_fields: object) -> Donation:
    """Write a *pending* donation (the caller holds the transaction)."""
    return Donation.objects.create(
        donor=user,
        cause=gift.cause,
        project=gift.project,
        via_status=gift.via_status,
        amount_minor=gift.amount_minor,
        currency=gift.currency,
        state=Donation.State.PENDING,
        **_gift_aid_fields(gift),
        **method_fields,
    )


# --- Phone bill --------------------------------------------------------------------------


def donate_by_phone_bill(
    user: User,
    *,
    cause: Cause,
    project: Project | None = None,
    amount_minor: int,
    currency: str,
    client_key: str,
    gift_aid: GiftAidDeclaration | None = None,
    via_status: Status | None = None,
) -> Donation:
    """Reserve a donation on the donor's phone bill; it waits for one confirmation
    (:func:`confirm_phone_bill_donation`) within the carrier-billing reservation time.

    Returns a *pending* donation holding the reserved carrier charge (a pending transfer
    Dr unbilled Cr cause:ID). Refused (``DonationError``, nothing written): a zero,
    negative or over-maximum amount, a currency a cause cannot hold or the donor's line
    does not bill in, an unverified cause, a project of another cause, in another
    currency or past its deadline, an invalid Gift Aid declaration, and every carrier
    billing refusal (no active line, switched off, over the monthly limit).

    Idempotent on ``(user, client_key)``: the same key and request return the same
    donation, whatever its state now; another request under the key is refused
    (:class:`DonationKeyReused`, whose message names no key). The refusals that hold
    whatever the amount come first, in :func:`phone_bill_terms`'s words
    (:class:`PhoneBillUnavailable`). Atomic."""
    gift = _check(
        cause=cause,
        project=project,
        amount_minor=amount_minor,
        currency=currency,
        gift_aid=gift_aid,
        via_status=via_status,
    )
    key = f"donation:{client_key}"
    with transaction.atomic():
        existing = _phone_bill_donation_under(user, key)
        if existing is not None:
            if _same_request(existing, gift):
                return existing
            raise DonationKeyReused(client_key)
        phone_bill_terms(user, cause=cause, project=project)
        try:
            charge = carrier.reserve_charge(
                user,
                client_key=key,
                amount_minor=amount_minor,
                currency=currency,
                kind=CarrierCharge.Kind.DONATION,
                description=f"Donation to {cause.name}"[:200],
                cause=cause,
            )
        except carrier.CarrierBillingError as error:
            if _phone_bill_donation_under(user, key) is not None:  # sent twice at once
                raise DonationKeyReused(client_key) from None
            raise DonationError(str(error)) from None
        existing = Donation.objects.filter(carrier_charge=charge).first()
        if existing is not None:
            if existing.donor_id == user.pk and _same_request(existing, gift):
                return existing
            raise DonationKeyReused(client_key)
        return _new_donation(
            user,
            gift,
            reference=charge.reference,
            method=Donation.Method.PHONE_BILL,
            carrier_charge=charge,
        )


def _phone_bill_donation_under(user: User, key: str) -> Donation | None:
    """``user``'s phone-bill donation whose carrier charge was reserved under ``key``."""
    return Donation.objects.filter(
        donor=user, method=Donation.Method.PHONE_BILL, carrier_charge__client_key=key
    ).first()


def _own_donation(user: User, reference: uuid.UUID | str) -> Donation:
    """The donor's donation ``reference``, locked; the same error for anyone else's."""
    try:
        wanted = reference if isinstance(reference, uuid.UUID) else uuid.UUID(str(reference))
    except ValueError:
        wanted = None
    donation = (
        Donation.objects.select_for_update().filter(donor=user, reference=wanted).first()
        if wanted is not None
        else None
    )
    if donation is None:
        raise DonationNotFound(_("There is no donation %(reference)s.") % {"reference": reference})
    return donation


def _already(donation: Donation) -> DonationError:
    messages: dict[str, str] = {
        Donation.State.COMPLETED: _("This donation is already confirmed."),
        Donation.State.FAILED: _("This donation failed; nothing was charged."),
        Donation.State.CANCELLED: _("This donation was cancelled; nothing was charged."),
    }
    return DonationError(messages.get(donation.state, _("This donation cannot be confirmed.")))


def reservation_minutes() -> int:
    """How many minutes a gift on the phone bill waits for its confirmation (carrier
    billing's ``CARRIER_RESERVATION_MINUTES``)."""
    return int(carrier.reservation_lifetime().total_seconds() // 60)


def confirm_by(donation: Donation) -> datetime | None:
    """When the pending phone-bill ``donation`` can no longer be confirmed (None for any
    other donation)."""
    charge = donation.carrier_charge
    if donation.state != Donation.State.PENDING or charge is None:
        return None
    return charge.reserved_at + carrier.reservation_lifetime()


def _refused_confirmation(charge: CarrierCharge, fallback: str) -> str:
    """Why carrier billing refused to confirm ``charge``, in the donor's terms (the
    carrier's own message names the charge's reference)."""
    if charge.state == CarrierCharge.State.EXPIRED:
        return ngettext(
            "This donation was not confirmed within %(minutes)s minute, so it lapsed and "
            "nothing was charged. Please start again.",
            "This donation was not confirmed within %(minutes)s minutes, so it lapsed and "
            "nothing was charged. Please start again.",
            reservation_minutes(),
        ) % {"minutes": reservation_minutes()}
    if charge.state == CarrierCharge.State.CANCELLED:
        if charge.line.state != LineState.ACTIVE:
            return _(
                "This donation cannot be confirmed: the line it was to be charged to is no "
                "longer active. It was cancelled and nothing was charged."
            )
        return _(
            "This donation cannot be confirmed: you have switched off charges to your phone "
            "bill. It was cancelled and nothing was charged."
        )
    return fallback


def _complete(donation: Donation) -> None:
    """Mark the locked ``donation`` completed and add it to its project; the caller holds
    the transaction (and posts the money in it)."""
    donation.state, donation.completed_at = Donation.State.COMPLETED, timezone.now()
    donation.save(update_fields=["state", "completed_at"])
    if donation.project_id is not None:
        Project.objects.filter(pk=donation.project_id).update(
            raised_minor=F("raised_minor") + donation.amount_minor
        )
    pk = donation.pk
    transaction.on_commit(lambda: send_receipt(Donation.objects.get(pk=pk)), robust=True)


def confirm_phone_bill_donation(user: User, reference: uuid.UUID | str) -> Donation:
    """The donor's one confirmation: the carrier charge is confirmed (the reservation
    posted: the cause's account is credited the whole amount), the donation completed
    and the project's ``raised_minor`` increased, in one transaction; the receipt is
    e-mailed after the commit. Refused: someone else's or a missing donation
    (``DonationNotFound``, the same message), a donation already confirmed, failed or
    cancelled. When carrier billing refuses the confirmation (expired, line no longer
    active, switched off), the charge's reservation is voided and the donation cancelled
    — both committed — before ``DonationError`` is raised."""
    refusal = ""
    with transaction.atomic():
        donation = _own_donation(user, reference)
        if donation.state != Donation.State.PENDING or donation.carrier_charge is None:
            raise _already(donation)
        try:
            carrier.confirm_charge(user, donation.carrier_charge.reference)
        except carrier.CarrierBillingError as error:
            charge = CarrierCharge.objects.select_related("line").get(pk=donation.carrier_charge.pk)
            refusal = _refused_confirmation(charge, str(error))
            if charge.state != CarrierCharge.State.RESERVED:
                donation.state = Donation.State.CANCELLED
                donation.save(update_fields=["state"])
        else:
            _complete(donation)
    if refusal:
        raise DonationError(refusal)
    return donation


# --- Card --------------------------------------------------------------------------------


def _card_key(donation: Donation) -> str:
    return f"kindwave:donation:{donation.reference}"


def _ledger_key(donation: Donation) -> str:
    return f"donation:{donation.reference}"


def _start_card_donation(user: User, gift: _Gift, idempotency_key: str) -> Donation:
    """The attempt's donation: the one already written under ``idempotency_key`` or a new
    pending one (committed before the processor is asked)."""
    existing = Donation.objects.filter(donor=user, client_key=idempotency_key).first()
    if existing is None:
        try:
            with transaction.atomic():
                return _new_donation(
                    user,
                    gift,
                    reference=uuid.uuid4(),
                    method=Donation.Method.CARD,
                    client_key=idempotency_key,
                )
        except IntegrityError:  # the same key at the same instant: a double click
            existing = Donation.objects.get(donor=user, client_key=idempotency_key)
    if existing.method != Donation.Method.CARD or not _same_request(existing, gift):
        raise DonationKeyReused(idempotency_key)
    return existing


def donate_by_card(
    user: User,
    *,
    cause: Cause,
    project: Project | None = None,
    amount_minor: int,
    currency: str,
    token: str,
    idempotency_key: str,
    gift_aid: GiftAidDeclaration | None = None,
    processor: CardProcessor | None = None,
    via_status: Status | None = None,
) -> Donation:
    """Give ``amount_minor`` to ``cause`` (and ``project``) with the card behind ``token``.

    The donation is written *pending* and committed, then the processor is asked (its
    idempotency key is the donation's, so a retry cannot charge twice), then — in one
    transaction — the donation is completed, the project's ``raised_minor`` increased and
    the ledger posted: the whole amount Dr bank Cr cause:ID (``donation``) and the
    processor's fee Dr payment-fees Cr bank (``payment-fee``), the operator's expense.

    Refused before any charge (``DonationError``, nothing written): as
    :func:`donate_by_phone_bill` (amount, currency, cause, project, Gift Aid), an empty
    token or key, a key already used for another request. A decline marks the donation
    failed and raises ``DonationError`` with the bank's reason; nothing is posted. An
    unknown outcome (processor unreachable) leaves it pending and raises: retrying with the
    same ``idempotency_key`` is safe. The same key after success returns the donation."""
    if not isinstance(idempotency_key, str) or not 1 <= len(idempotency_key.strip()) <= 100:
        raise DonationError(_("A card donation needs a key of 1 to 100 characters."))
    if not isinstance(token, str) or not token.strip():
        raise DonationError(_("A card donation needs the card form's token."))
    gift = _check(
        cause=cause,
        project=project,
        amount_minor=amount_minor,
        currency=currency,
        gift_aid=gift_aid,
        via_status=via_status,
    )
    try:
        processor = processor or CardProcessor.from_settings()
    except PaymentError as error:  # card payments not configured
        raise DonationError(str(error)) from None
    donation = _start_card_donation(user, gift, idempotency_key)
    if donation.state == Donation.State.COMPLETED:
        return donation
    if donation.state != Donation.State.PENDING:
        raise _already(donation)
    try:
        charge = processor.charge(
            amount_minor=amount_minor,
            currency=currency,
            token=token,
            idempotency_key=_card_key(donation),
            metadata={"donation": str(donation.reference), ATTEMPT_METADATA: _card_key(donation)},
        )
    except CardDeclined as declined:
        _fail(donation, declined.intent_id)
        raise DonationError(str(declined)) from None
    except CardProviderError as error:
        if error.refused:  # the processor said no: nothing was charged
            _fail(donation, "")
        raise DonationError(str(error)) from None
    return _complete_card(donation, charge)


def _complete_card(donation: Donation, charge: CardCharge) -> Donation:
    """Complete the card ``donation`` the processor charged and post it, once (a donation
    already completed is returned as it is). The processor's word wins over our state:
    money it took is always booked to the cause."""
    currency, amount_minor = donation.currency, donation.amount_minor
    with transaction.atomic():
        locked = Donation.objects.select_for_update().get(pk=donation.pk)
        if locked.state == Donation.State.COMPLETED:
            return locked
        locked.card_payment_ref = charge.intent_id[:120]
        locked.save(update_fields=["card_payment_ref"])
        bank, cause_account, fees = chart.ensure(
            chart.bank(currency),
            chart.cause(donation.cause_id, currency),
            chart.payment_fees(currency),
        )
        # No personal data in descriptions: the public ledger feed publishes them.
        ledger.transfer(
            _ledger_key(locked),
            bank,
            cause_account,
            amount_minor,
            currency,
            "donation",
            "card donation",
        )
        if charge.fee_minor:
            ledger.transfer(
                f"{_ledger_key(locked)}:fee",
                fees,
                bank,
                charge.fee_minor,
                currency,
                "payment-fee",
                "card processor fee on a donation",
            )
        _complete(locked)
    return locked


def _fail(donation: Donation, intent_id: str) -> None:
    with transaction.atomic():
        locked = Donation.objects.select_for_update().get(pk=donation.pk)
        if locked.state == Donation.State.PENDING:
            locked.state, locked.card_payment_ref = Donation.State.FAILED, intent_id[:120]
            locked.save(update_fields=["state", "card_payment_ref"])
    donation.refresh_from_db(fields=["state", "card_payment_ref"])


# --- Receipt -----------------------------------------------------------------------------


def receipt_text(donation: Donation) -> tuple[str, str]:
    """The receipt's subject and body in the active language."""
    language = translation.get_language() or "en"
    amount = format_money(donation.amount_minor, donation.currency, language)
    when = donation.completed_at or donation.created_at
    lines = [
        _("Thank you for your donation of %(amount)s to %(cause)s.")
        % {"amount": amount, "cause": donation.cause.name},
    ]
    if donation.project is not None:
        lines.append(_("Project: %(title)s") % {"title": donation.project.title})
    lines += [
        _("Date: %(date)s") % {"date": formats.date_format(when, "DATE_FORMAT")},
        _("Reference: %(reference)s") % {"reference": donation.reference},
        _("Paid by: %(method)s") % {"method": donation.get_method_display()},
        "",
        _(
            "%(share)s reaches the cause: Kindwave takes no commission, and any card fee is "
            "paid by Kindwave, not taken from your gift."
        )
        % {"share": "100 %"},
    ]
    if donation.gift_aid:
        lines += [
            "",
            _(
                "Gift Aid: you declared that %(cause)s may claim Gift Aid on this donation "
                "(%(name)s, %(postcode)s). Tell the charity if you stop paying enough UK "
                "Income Tax or Capital Gains Tax."
            )
            % {
                "cause": donation.cause.name,
                "name": donation.gift_aid_name,
                "postcode": donation.gift_aid_postcode,
            },
        ]
    subject = _("Your donation to %(cause)s") % {"cause": donation.cause.name}
    return subject, "\n".join(lines) + "\n"


def send_receipt(donation: Donation) -> None:
    """E-mail the receipt of the completed ``donation`` to its donor, in their language:
    amount, cause (and project), date, reference, the promise that 100 % reaches the
    cause, and the Gift Aid line when declared. Called after the commit that completes it;
    a mail failure is logged (without the address) and does not undo the donation."""
    if donation.state != Donation.State.COMPLETED:
        return
    donor = donation.donor
    with translation.override(donor.language or settings.LANGUAGE_CODE):
        subject, body = receipt_text(donation)
    try:
        send_mail(subject, body, None, [donor.email])
    except Exception:  # a failed mail must not undo a completed donation
        logger.exception("donation receipt not sent (donation %s)", donation.pk)


# --- Crash recovery ----------------------------------------------------------------------


@dataclass
class ReconcileSummary:
    """What one sweep did with the card donations left pending."""

    checked: int = 0
    completed: int = 0
    failed: int = 0
    waiting: int = 0


def reconcile_card_donations(
    *,
    older_than_minutes: int = STALE_AFTER_MINUTES,
    now: datetime | None = None,
    processor: CardProcessor | None = None,
) -> ReconcileSummary:
    """Settle card donations still *pending* ``older_than_minutes`` after they started (a
    crash or a lost answer between the processor and Kindwave): ask the processor about
    each attempt (a search on its key, never a new charge) and complete it (posted as a
    normal success, receipt sent), fail it (declined, or the request never reached the
    processor) or leave it (still processing). Idempotent. For a staff job, as the
    invoices' ``reconcile-cards``."""
    cutoff = (now or timezone.now()) - timedelta(minutes=older_than_minutes)
    stale = list(
        Donation.objects.filter(
            method=Donation.Method.CARD, state=Donation.State.PENDING, created_at__lte=cutoff
        ).order_by("created_at", "pk")
    )
    summary = ReconcileSummary(checked=len(stale))
    if not stale:
        return summary
    processor = processor or CardProcessor.from_settings()
    for donation in stale:
        try:
            found = processor.find(
                _card_key(donation), amount_minor=donation.amount_minor, currency=donation.currency
            )
        except PaymentError:
            summary.waiting += 1
            continue
        if found.outcome == "succeeded" and found.charge is not None:
            _complete_card(donation, found.charge)
            summary.completed += 1
        elif found.outcome in ("failed", "missing"):
            _fail(donation, found.intent_id)
            summary.failed += 1
        else:
            summary.waiting += 1
    return summary
