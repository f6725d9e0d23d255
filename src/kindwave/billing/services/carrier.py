"""Carrier billing: a purchase or a donation charged to the subscriber's phone bill.

The community's donations and the CAMARA Carrier Billing API call these functions; the
subscriber's page sets the limit. A charge is *reserved* (a pending ledger transfer
Dr unbilled, Cr merchants for a purchase or Cr cause:ID for a donation), then
*confirmed* (the reservation is posted; the charge waits for the next invoice) or
*cancelled* (the reservation is voided). A reservation left unconfirmed for
``CARRIER_RESERVATION_MINUTES`` *expires*: it can no longer be confirmed, no longer counts
against the limit, and is voided (by :func:`expire_reservations`, or when touched).
Confirming re-checks that the line is still active and carrier billing still on.
See docs/billing-payments.md.

Every function owns its transaction. A refusal raises :class:`CarrierBillingError` (or
:class:`ChargeNotFound`) with the reason, and nothing is written. None of them trusts the
caller about *who* acts: a charge is always looked up among the acting user's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast

from django.conf import settings
from django.db import transaction
from django.db.models import Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.accounts.models import User
from kindwave.billing.models import BillRun, CarrierBillingSetting, CarrierCharge
from kindwave.causes.models import Cause
from kindwave.ledger import chart
from kindwave.ledger import services as ledger
from kindwave.ledger.models import Transfer
from kindwave.lines.models import Line, LineState, Market

#: Why an expired reservation was voided (English, for staff).
EXPIRED_REASON = "not confirmed in time"


class CarrierBillingError(Exception):
    """A carrier-billing request that cannot be honoured; the message says why."""


class ChargeNotFound(CarrierBillingError):  # noqa: N818 - reads as what happened
    """No such charge among the acting subscriber's own (someone else's looks the same)."""


@dataclass(frozen=True)
class Limit:
    """A subscriber's carrier-billing terms: switched on or off, and the monthly limit in
    force (their own, never above the operator's cap)."""

    enabled: bool
    monthly_limit_minor: int
    cap_minor: int
    own_limit_minor: int | None


# --- Months -------------------------------------------------------------------------------


def month_of(at: datetime) -> str:
    """The UTC calendar month of ``at``, ``YYYY-MM``."""
    return at.astimezone(UTC).strftime("%Y-%m")


def _month_bounds(month: str) -> tuple[datetime, datetime]:
    try:
        year, number = (int(part) for part in month.split("-"))
        start = datetime(year, number, 1, tzinfo=UTC)
    except ValueError:
        raise CarrierBillingError(
            _("%(month)r is not a month (expected YYYY-MM).") % {"month": month}
        ) from None
    end = datetime(year + (number == 12), number % 12 + 1, 1, tzinfo=UTC)
    return start, end


def _next_month(month: str) -> str:
    _start, end = _month_bounds(month)
    return end.strftime("%Y-%m")


# --- The subscriber's setting -------------------------------------------------------------


def _cap() -> int:
    return cast(int, settings.BILLING["CARRIER_BILLING_CAP_MINOR"])


def limit_for(user: User) -> Limit:
    """The subscriber's terms now: on unless they switched it off; their own limit, or the
    operator's cap when they set none (an own limit above a since-lowered cap is cut to it).
    Reads only."""
    setting = CarrierBillingSetting.objects.filter(user=user).first()
    return _limit(setting)


def _limit(setting: CarrierBillingSetting | None) -> Limit:
    cap = _cap()
    own = setting.monthly_limit_minor if setting is not None else None
    return Limit(
        enabled=setting.enabled if setting is not None else True,
        monthly_limit_minor=cap if own is None else min(own, cap),
        cap_minor=cap,
        own_limit_minor=own,
    )


def set_limit(user: User, *, enabled: bool, monthly_limit_minor: int | None) -> Limit:
    """Switch carrier billing on or off and set the subscriber's monthly limit (``None``:
    the operator's cap). The limit must be a whole number from 0 to the cap; 0 allows
    nothing. Atomic; calling it again with the same values changes nothing."""
    cap = _cap()
    if monthly_limit_minor is not None and (
        isinstance(monthly_limit_minor, bool)
        or not isinstance(monthly_limit_minor, int)
        or not 0 <= monthly_limit_minor <= cap
    ):
        raise CarrierBillingError(
            _("The monthly limit must be a whole amount from 0 to %(cap)s minor units.")
            % {"cap": cap}
        )
    with transaction.atomic():
        setting = _locked_setting(user)
        setting.enabled = bool(enabled)
        setting.monthly_limit_minor = monthly_limit_minor
        setting.updated_at = timezone.now()
        setting.save(update_fields=["enabled", "monthly_limit_minor", "updated_at"])
    return _limit(setting)


def _locked_setting(user: User) -> CarrierBillingSetting:
    """The subscriber's setting row, created if missing, locked until the transaction ends:
    every reservation of one subscriber passes through this lock, so two racing
    reservations see each other's spend."""
    CarrierBillingSetting.objects.get_or_create(user=user)
    return CarrierBillingSetting.objects.select_for_update().get(user=user)


def reservation_lifetime() -> timedelta:
    """How long a reservation waits for its confirmation (``CARRIER_RESERVATION_MINUTES``)."""
    return timedelta(minutes=cast(int, settings.BILLING["CARRIER_RESERVATION_MINUTES"]))


def is_expired(charge: CarrierCharge, at: datetime) -> bool:
    """Whether the reserved ``charge`` can no longer be confirmed at ``at``."""
    return at >= charge.reserved_at + reservation_lifetime()


def spent_in_month(
    user: User, month: str, currency: str | None = None, at: datetime | None = None
) -> int:
    """What the subscriber has charged to their bill in the UTC month ``month``, as at
    ``at`` (default now): charges reserved that month and confirmed, or still reserved and
    not expired (cancelled and expired ones do not count), in minor units of ``currency``
    (every currency when ``None``: a subscriber has lines in one market in practice).
    Reads only."""
    start, end = _month_bounds(month)
    live_since = (at or timezone.now()) - reservation_lifetime()
    charges = CarrierCharge.objects.filter(
        Q(state=CarrierCharge.State.CONFIRMED)
        | Q(state=CarrierCharge.State.RESERVED, reserved_at__gt=live_since),
        owner=user,
        reserved_at__gte=start,
        reserved_at__lt=end,
    )
    if currency is not None:
        charges = charges.filter(currency=currency)
    return int(charges.aggregate(total=Sum("amount_minor"))["total"] or 0)


# --- Charges ------------------------------------------------------------------------------


def _line_for(user: User, currency: str) -> Line:
    active = list(
        Line.objects.filter(owner=user, state=LineState.ACTIVE)
        .select_related("market")
        .order_by("ordered_at", "pk")
    )
    if not active:
        raise CarrierBillingError(
            _("Charges to the phone bill need an active line; you have none.")
        )
    for line in active:
        if line.market.currency == currency:
            return line
    currencies = sorted({line.market.currency for line in active})
    raise CarrierBillingError(
        _("Your line bills in %(currencies)s; a charge in %(currency)s cannot go on it.")
        % {"currencies": ", ".join(currencies), "currency": currency}
    )


def _check_request(
    amount_minor: int,
    currency: str,
    kind: str,
    description: str,
    merchant: str,
    cause: Cause | None,
) -> None:
    if isinstance(amount_minor, bool) or not isinstance(amount_minor, int) or amount_minor <= 0:
        raise CarrierBillingError(
            _("The amount must be a positive whole number of minor units, not %(amount)r.")
            % {"amount": amount_minor}
        )
    if currency not in Market.CURRENCIES.values():
        raise CarrierBillingError(
            _("%(currency)r is not a currency Kindwave bills in.") % {"currency": currency}
        )
    if kind not in CarrierCharge.Kind.values:
        raise CarrierBillingError(
            _("A charge is a purchase or a donation, not %(kind)r.") % {"kind": kind}
        )
    if not description.strip() or len(description) > 200:
        raise CarrierBillingError(_("A charge needs a description of 1 to 200 characters."))
    if kind == CarrierCharge.Kind.DONATION:
        if cause is None or not cause.is_verified:
            raise CarrierBillingError(_("A donation needs a verified cause."))
    else:
        if cause is not None:
            raise CarrierBillingError(_("A purchase is paid to a merchant, not to a cause."))
        if not merchant.strip() or len(merchant) > 200:
            raise CarrierBillingError(
                _("A purchase needs the merchant's name (1 to 200 characters).")
            )


def _request_of(charge: CarrierCharge) -> tuple[object, ...]:
    """What a client key stands for: the same key must come with the same request."""
    return (
        charge.amount_minor,
        charge.currency,
        charge.kind,
        charge.description,
        charge.merchant,
        charge.cause_id,
    )


def _key(charge: CarrierCharge, step: str) -> str:
    return f"carrier:{charge.reference}:{step}"


def reserve_charge(
    user: User,
    *,
    client_key: str,
    amount_minor: int,
    currency: str,
    kind: str,
    description: str,
    merchant: str = "",
    cause: Cause | None = None,
    at: datetime | None = None,
) -> CarrierCharge:
    """Reserve a charge to the subscriber's phone bill, awaiting their confirmation.

    Goes on the subscriber's oldest active line billing in ``currency``. The reservation
    is a pending ledger transfer, Dr unbilled, Cr merchants (code ``carrier-charge``) or
    Cr the cause (code ``donation``). Refused (``CarrierBillingError``, nothing written):
    a zero or negative amount, a currency no active line bills in, no active line,
    carrier billing switched off, or a charge that would take the month's spend
    (:func:`spent_in_month`) over the subscriber's limit.

    Idempotent on ``(user, client_key)``: the same key with the same request returns the
    charge already reserved (whatever its state); with another request it is refused.
    Atomic; the subscriber's setting row is locked throughout, so concurrent reservations
    cannot together pass the limit.
    """
    at = at or timezone.now()
    if not isinstance(client_key, str) or not client_key.strip() or len(client_key) > 120:
        raise CarrierBillingError(_("A charge needs a client key of 1 to 120 characters."))
    _check_request(amount_minor, currency, kind, description, merchant, cause)
    with transaction.atomic():
        setting = _locked_setting(user)
        existing = CarrierCharge.objects.filter(owner=user, client_key=client_key).first()
        if existing is not None:
            request = (amount_minor, currency, kind, description, merchant, cause and cause.pk)
            if _request_of(existing) == request:
                return existing
            raise CarrierBillingError(
                _("The client key %(key)s was already used for a different charge.")
                % {"key": client_key}
            )
        line = _line_for(user, currency)
        terms = _limit(setting)
        if not terms.enabled:
            raise CarrierBillingError(
                _("You have switched off charges to your phone bill; switch them on first.")
            )
        spent = spent_in_month(user, month_of(at), currency, at=at)
        if spent + amount_minor > terms.monthly_limit_minor:
            raise CarrierBillingError(
                _(
                    "This charge of %(amount)s would take this month's charges to %(total)s, "
                    "over your monthly limit of %(limit)s (minor units of %(currency)s)."
                )
                % {
                    "amount": amount_minor,
                    "total": spent + amount_minor,
                    "limit": terms.monthly_limit_minor,
                    "currency": currency,
                }
            )
        charge = CarrierCharge.objects.create(
            reference=uuid.uuid4(),
            client_key=client_key,
            owner=user,
            line=line,
            kind=kind,
            merchant=merchant,
            cause=cause,
            description=description,
            amount_minor=amount_minor,
            currency=currency,
            state=CarrierCharge.State.RESERVED,
            reserved_at=at,
        )
        if kind == CarrierCharge.Kind.DONATION:
            assert cause is not None  # checked above  # noqa: S101
            payee, code = chart.cause(cause.pk, currency), "donation"
        else:
            payee, code = chart.merchants(currency), "carrier-charge"
        unbilled, payee_account = chart.ensure(chart.unbilled(currency), payee)
        ledger.reserve(
            _key(charge, "reserve"),
            unbilled,
            payee_account,
            amount_minor,
            currency,
            code,
            # No personal data: the public ledger feed publishes descriptions.
            f"carrier billing: {kind}",
        )
    return charge


def _own_charge(user: User, reference: uuid.UUID | str) -> CarrierCharge:
    """The charge ``reference`` if it is ``user``'s, locked; the same error otherwise."""
    try:
        wanted = reference if isinstance(reference, uuid.UUID) else uuid.UUID(str(reference))
    except ValueError:
        wanted = None
    charge = (
        CarrierCharge.objects.select_for_update().filter(owner=user, reference=wanted).first()
        if wanted is not None
        else None
    )
    if charge is None:
        raise ChargeNotFound(_("There is no charge %(reference)s.") % {"reference": reference})
    return charge


def _void(charge: CarrierCharge, step: str, state: str, at: datetime, reason: str = "") -> None:
    """Void the reserved ``charge``'s reservation (ledger key ``carrier:<ref>:<step>``)
    and record its new ``state``; the caller holds the charge's row lock."""
    reservation = Transfer.objects.get(idempotency_key=_key(charge, "reserve"))
    ledger.void_pending(_key(charge, step), reservation)
    charge.state, charge.settled_at, charge.void_reason = state, at, reason
    charge.save(update_fields=["state", "settled_at", "void_reason"])


def _settle(
    user: User, reference: uuid.UUID | str, at: datetime | None, confirm: bool
) -> CarrierCharge:
    """Post (``confirm``) or void the reservation of the user's reserved charge, once.
    A confirmation the charge no longer qualifies for voids it and then raises: the void
    is committed, so the reservation stops holding the subscriber's money."""
    at = at or timezone.now()
    refusal = ""
    with transaction.atomic():
        # The setting first, as reservations do: a switch-off waits for us, or we see it.
        setting = _locked_setting(user)
        charge = _own_charge(user, reference)
        if charge.state != CarrierCharge.State.RESERVED:
            messages: dict[str, str] = {
                CarrierCharge.State.CONFIRMED: _("The charge %(reference)s is already confirmed."),
                CarrierCharge.State.EXPIRED: _(
                    "The charge %(reference)s expired before it was confirmed."
                ),
            }
            message = messages.get(charge.state, _("The charge %(reference)s was cancelled."))
            raise CarrierBillingError(message % {"reference": charge.reference})
        if is_expired(charge, at):
            minutes = int(reservation_lifetime().total_seconds() // 60)
            _void(charge, "expire", CarrierCharge.State.EXPIRED, at, EXPIRED_REASON)
            if confirm:
                refusal = _(
                    "The charge %(reference)s expired: it was not confirmed within %(minutes)s "
                    "minutes. Nothing was charged; please start again."
                ) % {"reference": charge.reference, "minutes": minutes}
        elif not confirm:
            _void(charge, "cancel", CarrierCharge.State.CANCELLED, at)
        elif charge.line.state != LineState.ACTIVE or not setting.enabled:
            line_gone = charge.line.state != LineState.ACTIVE
            reason = "line no longer active" if line_gone else "carrier billing switched off"
            _void(charge, "cancel", CarrierCharge.State.CANCELLED, at, reason)
            refusal = (
                _(
                    "The charge %(reference)s cannot be confirmed: its line is no longer "
                    "active. It was cancelled and nothing was charged."
                )
                if line_gone
                else _(
                    "The charge %(reference)s cannot be confirmed: you have switched off "
                    "charges to your phone bill. It was cancelled and nothing was charged."
                )
            ) % {"reference": charge.reference}
        else:
            reservation = Transfer.objects.get(idempotency_key=_key(charge, "reserve"))
            ledger.post_pending(_key(charge, "confirm"), reservation)
            charge.state, charge.cycle = CarrierCharge.State.CONFIRMED, billing_cycle_for(at)
            charge.settled_at = at
            charge.save(update_fields=["state", "cycle", "settled_at"])
    if refusal:
        raise CarrierBillingError(refusal)
    return charge


def billing_cycle_for(at: datetime) -> str:
    """The cycle whose invoice carries a charge confirmed at ``at``: the UTC month of ``at``,
    or the first later month that has no bill run yet (a cycle already billed is closed)."""
    cycle = month_of(at)
    billed = set(BillRun.objects.filter(cycle__gte=cycle).values_list("cycle", flat=True))
    while cycle in billed:
        cycle = _next_month(cycle)
    return cycle


def confirm_charge(
    user: User, reference: uuid.UUID | str, at: datetime | None = None
) -> CarrierCharge:
    """Confirm the subscriber's reserved charge: the reservation is posted, and the charge
    waits for the invoice of :func:`billing_cycle_for` its confirmation instant.
    Someone else's charge is refused exactly like a missing one (``ChargeNotFound``); a
    charge already confirmed, cancelled or expired is refused. Refused too, with the
    reservation voided (the charge is then cancelled, or expired, for good): a
    reservation older than ``CARRIER_RESERVATION_MINUTES``, a line no longer active,
    carrier billing switched off since the reservation. Atomic."""
    return _settle(user, reference, at, confirm=True)


def cancel_charge(
    user: User, reference: uuid.UUID | str, at: datetime | None = None
) -> CarrierCharge:
    """Cancel the subscriber's reserved charge: the reservation is voided and no longer
    counts against the limit (an expired one is marked expired). Refused like
    :func:`confirm_charge` for charges no longer reserved. Atomic."""
    return _settle(user, reference, at, confirm=False)


def expire_reservations(
    at: datetime | None = None, progress: Callable[[int, int], None] | None = None
) -> int:
    """Void every reservation left unconfirmed for ``CARRIER_RESERVATION_MINUTES`` at
    ``at`` (default now): the charge becomes *expired* and its pending transfer is voided
    (``carrier:<reference>:expire``). Each charge in its own transaction, its row locked
    and its state re-read, so a confirmation racing the sweep wins or loses cleanly.
    Idempotent; returns how many expired now. For the staff job (run it every few
    minutes)."""
    at = at or timezone.now()
    stale = list(
        CarrierCharge.objects.filter(
            state=CarrierCharge.State.RESERVED, reserved_at__lte=at - reservation_lifetime()
        )
        .order_by("reserved_at", "pk")
        .values_list("pk", flat=True)
    )
    expired = 0
    for done, pk in enumerate(stale, start=1):
        with transaction.atomic():
            charge = CarrierCharge.objects.select_for_update().get(pk=pk)
            if charge.state == CarrierCharge.State.RESERVED and is_expired(charge, at):
                _void(charge, "expire", CarrierCharge.State.EXPIRED, at, EXPIRED_REASON)
                expired += 1
        if progress is not None:
            progress(done, len(stale))
    return expired
