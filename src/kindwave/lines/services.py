"""Every write to lines, stock and the plan catalogue goes through these functions.

Each function owns its transaction. Bad input raises
``django.core.exceptions.ValidationError`` (with the reason, per field where there is
one); a request the current state of things cannot honour raises ``LinesError`` (or a
subclass); a forbidden lifecycle step raises ``models.IllegalTransitionError``. None of them
checks *who* asks: views and endpoints first resolve the line through
``selectors.get_line_for(user, id)``; staff act through the admin.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any, Literal
from zoneinfo import available_timezones

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import connection, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from kindwave.accounts import services as accounts
from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.lines import selectors
from kindwave.lines.catalog_format import (
    CatalogDocument,
    CatalogIssue,
    InvalidCatalogError,
    parse_catalog,
)
from kindwave.lines.models import (
    CatalogVersion,
    CauseChoice,
    DestinationClass,
    DestinationPrefix,
    Line,
    LineEvent,
    LineState,
    LineStateChange,
    Market,
    NumberBlock,
    PhoneNumber,
    Plan,
    PlanRate,
    PlanSubscription,
    PortInRequest,
    RoamingZone,
    RoamingZoneCountry,
    SimCard,
    next_line_state,
)
from kindwave.lines.validators import (
    PortIn,
    next_iccid,
    normalise_iccid,
    normalise_imsi,
    normalise_msisdn,
    normalise_port_in,
)
from kindwave.simulator.contract import SUBSCRIBERS_HEADER

MAX_BLOCK_SIZE = 1_000_000
MAX_SIM_BATCH = 1_000_000
DEMO_MARKETS = ("gb", "fr", "us")


class LinesError(Exception):
    """A request about lines or the catalogue that cannot be honoured; the message says why."""


class OutOfStockError(LinesError):
    """No free number or SIM is left in the market's pool."""


class PlanNotOnOfferError(LinesError):
    """The plan code is not sold in the market at that instant."""


# --- Catalogue ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogLoadResult:
    """What ``load_catalog`` did: ``loaded``, ``already_loaded`` (identical file) or
    ``checked`` (dry run: valid and loadable, nothing written)."""

    status: Literal["loaded", "already_loaded", "checked"]
    market: str
    version: str
    effective_from: datetime
    sha256: str
    document: CatalogDocument
    catalog: CatalogVersion | None


def _resolve_market(market: Market | str) -> Market:
    if isinstance(market, Market):
        return market
    found = Market.objects.filter(code=market.upper()).first()
    if found is None:
        raise LinesError(
            _("No catalogue has been loaded for the market %(market)s yet.") % {"market": market}
        )
    return found


def load_catalog(text: str, *, source_name: str = "", dry_run: bool = False) -> CatalogLoadResult:
    """Check a catalogue file and store it as a new version of its market's catalogue.

    Atomic: on any problem ``InvalidCatalogError`` lists every issue and nothing is stored.
    Idempotent: the very same file again is reported ``already_loaded``. Versions are
    immutable: a changed file under a version label already loaded is refused, and a new
    version must take effect after every version already loaded for the market (a price
    change is a new version, never a rewrite of the past). ``dry_run`` runs every check,
    including those against the database, and writes nothing. For operator staff (CLI).
    """
    document = parse_catalog(text)
    header = document.header
    sha256 = hashlib.sha256(text.encode("utf-8")).hexdigest()
    with transaction.atomic():
        market = Market.objects.select_for_update().filter(code=header.market).first()
        issues: list[CatalogIssue] = []
        if market is not None:
            if market.host_plmn != header.host_network:
                issues.append(
                    CatalogIssue(
                        "catalog.host_network",
                        _(
                            "%(market)s runs on the host network %(plmn)s; a catalogue cannot "
                            "move it (the SIMs in stock carry that network's IMSIs)"
                        )
                        % {"market": market.code, "plmn": market.host_plmn},
                    )
                )
            same_label = (
                CatalogVersion.objects.filter(market=market, version=header.version)
                .defer("source_text")
                .first()
            )
            if same_label is not None:
                if same_label.source_sha256 == sha256:
                    return CatalogLoadResult(
                        "already_loaded", header.market, header.version, same_label.effective_from,
                        sha256, document, same_label,
                    )  # fmt: skip
                issues.append(
                    CatalogIssue(
                        "catalog.version",
                        _(
                            "version %(version)s of %(market)s is already loaded from a different "
                            "file (sha256 %(sha)s…); versions never change: give the new prices "
                            "a new version label and a later effective_from"
                        )
                        % {
                            "version": header.version,
                            "market": market.code,
                            "sha": same_label.source_sha256[:12],
                        },
                    )
                )
            latest = (
                CatalogVersion.objects.filter(market=market)
                .defer("source_text")
                .order_by("-effective_from")
                .first()
            )
            if (
                same_label is None
                and latest is not None
                and header.effective_from <= latest.effective_from
            ):
                issues.append(
                    CatalogIssue(
                        "catalog.effective_from",
                        _(
                            "must be later than %(when)s, when version %(version)s (the latest "
                            "loaded for %(market)s) took effect"
                        )
                        % {
                            "when": latest.effective_from.isoformat(),
                            "version": latest.version,
                            "market": market.code,
                        },
                    )
                )
        if issues:
            raise InvalidCatalogError(issues)
        if dry_run:
            return CatalogLoadResult(
                "checked", header.market, header.version, header.effective_from, sha256, document,
                None,
            )  # fmt: skip
        if market is None:
            mcc, mnc = header.host_network.split("-")
            market = Market.objects.create(
                code=header.market, currency=header.currency, host_mcc=mcc, host_mnc=mnc
            )
        catalog = _store_catalog(market, document, text, sha256, source_name)
    return CatalogLoadResult(
        "loaded", header.market, header.version, header.effective_from, sha256, document, catalog
    )


def _store_catalog(
    market: Market, document: CatalogDocument, text: str, sha256: str, source_name: str
) -> CatalogVersion:
    header = document.header
    catalog = CatalogVersion.objects.create(
        market=market,
        version=header.version,
        effective_from=header.effective_from,
        currency=header.currency,
        host_plmn=header.host_network,
        tax_mode=header.tax_mode,
        vat_rate=header.vat_rate,
        description=header.description,
        source_name=source_name[:255],
        source_sha256=sha256,
        source_text=text,
    )
    classes = DestinationClass.objects.bulk_create(
        DestinationClass(
            catalog=catalog,
            code=spec.code,
            kind=spec.kind,
            name_en=spec.name.en,
            name_fr=spec.name.fr,
            position=position,
        )
        for position, spec in enumerate(document.destinations)
    )
    class_by_code = {item.code: item for item in classes}
    DestinationPrefix.objects.bulk_create(
        DestinationPrefix(
            catalog=catalog, destination_class=class_by_code[spec.code], prefix=prefix
        )
        for spec in document.destinations
        for prefix in spec.prefixes
    )
    zones = RoamingZone.objects.bulk_create(
        RoamingZone(
            catalog=catalog,
            code=spec.code,
            kind=spec.kind,
            name_en=spec.name.en,
            name_fr=spec.name.fr,
            position=position,
            voice_out_per_minute=spec.prices.voice_out_per_minute if spec.prices else None,
            voice_in_per_minute=spec.prices.voice_in_per_minute if spec.prices else None,
            sms_out=spec.prices.sms_out if spec.prices else None,
            sms_in=spec.prices.sms_in if spec.prices else None,
            data_per_mb=spec.prices.data_per_mb if spec.prices else None,
        )
        for position, spec in enumerate(document.roaming_zones)
    )
    RoamingZoneCountry.objects.bulk_create(
        RoamingZoneCountry(catalog=catalog, zone=zone, mcc=mcc)
        for zone, spec in zip(zones, document.roaming_zones, strict=True)
        for mcc in spec.mcc
    )
    plans = Plan.objects.bulk_create(
        Plan(
            catalog=catalog,
            code=spec.code,
            kind=spec.kind,
            name_en=spec.name.en,
            name_fr=spec.name.fr,
            position=position,
            monthly_fee_minor=document.monthly_fee_minor[spec.code],
            currency=header.currency,
            included_minutes=spec.allowances.minutes if spec.allowances else 0,
            included_sms=spec.allowances.sms if spec.allowances else 0,
            included_data_mb=spec.allowances.data_mb if spec.allowances else 0,
            data_per_mb=spec.rates.data_per_mb,
            call_minimum_seconds=spec.call_minimum_seconds,
            call_increment_seconds=spec.call_increment_seconds,
        )
        for position, spec in enumerate(document.plans)
    )
    covers = Plan.allowance_covers.through
    covers.objects.bulk_create(
        covers(plan_id=plan.pk, destinationclass_id=class_by_code[code].pk)
        for plan, spec in zip(plans, document.plans, strict=True)
        if spec.allowances is not None
        for code in spec.allowances.covers
    )
    PlanRate.objects.bulk_create(
        PlanRate(
            plan=plan,
            destination_class=class_by_code[code],
            voice_per_minute=spec.rates.voice_per_minute[code],
            sms_per_message=spec.rates.sms_per_message[code],
        )
        for plan, spec in zip(plans, document.plans, strict=True)
        for code in class_by_code
    )
    return catalog


def load_catalog_file(path: Path, *, dry_run: bool = False) -> CatalogLoadResult:
    """``load_catalog`` on a file (UTF-8). Same promises; an unreadable file is refused."""
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as error:
        raise InvalidCatalogError(
            [CatalogIssue("(file)", _("not UTF-8 text (byte %(at)s)") % {"at": error.start})]
        ) from None
    except OSError as error:
        raise InvalidCatalogError([CatalogIssue("(file)", error.strerror or str(error))]) from None
    return load_catalog(text, source_name=path.name, dry_run=dry_run)


def demo_catalog_path(market: str) -> Path:
    """The demo catalogue shipped with Kindwave for ``gb``, ``fr`` or ``us``."""
    return Path(str(resources.files("kindwave.lines").joinpath(f"catalogs/{market.lower()}.toml")))


def load_demo_catalogs() -> list[CatalogLoadResult]:
    """Load the three demo catalogues. Idempotent (each is ``already_loaded`` the second time)."""
    return [load_catalog_file(demo_catalog_path(market)) for market in DEMO_MARKETS]


# --- Number and SIM stock -------------------------------------------------------------------


def add_number_block(market: Market | str, first: str, last: str) -> tuple[NumberBlock, bool]:
    """Add the numbers ``first``…``last`` (inclusive) to the market's pool.

    Both ends must be valid mobile numbers of the market, of the same length. Atomic.
    Idempotent: the same block again returns ``(block, False)``; a block overlapping
    another one is refused. For operator staff.
    """
    market = _resolve_market(market)
    errors: dict[str, list[ValidationError]] = {}
    ends: dict[str, str] = {}
    for name, value in (("first", first), ("last", last)):
        try:
            ends[name] = normalise_msisdn(value, market.code)
        except ValidationError as error:
            errors[name] = [error]
    if errors:
        raise ValidationError(errors)
    first, last = ends["first"], ends["last"]
    if len(first) != len(last) or first > last:
        raise ValidationError(
            _("%(first)s to %(last)s is not a range: same length and first ≤ last, please.")
            % {"first": first, "last": last}
        )
    size = int(last[1:]) - int(first[1:]) + 1
    if size > MAX_BLOCK_SIZE:
        raise ValidationError(
            _("A block holds at most %(max)s numbers; split this one.") % {"max": MAX_BLOCK_SIZE}
        )
    with transaction.atomic():
        existing = NumberBlock.objects.filter(first=first, last=last, market=market).first()
        if existing is not None:
            return existing, False
        # Text comparison orders numbers only among numbers of the same length.
        candidates = NumberBlock.objects.filter(first__lte=last, last__gte=first)
        overlapping = next((b for b in candidates if len(b.first) == len(first)), None)
        if overlapping is not None:
            raise ValidationError(
                _("%(first)s to %(last)s overlaps the block %(block)s.")
                % {"first": first, "last": last, "block": overlapping}
            )
        block = NumberBlock.objects.create(market=market, first=first, last=last)
        start, digits = int(first[1:]), len(first) - 1
        PhoneNumber.objects.bulk_create(
            (
                PhoneNumber(block=block, market=market, msisdn="+" + str(start + i).zfill(digits))
                for i in range(size)
            ),
            batch_size=5_000,
        )
    return block, True


def add_sims(market: Market | str, first_iccid: str, first_imsi: str, count: int) -> int:
    """Add ``count`` SIMs of a batch to the market's stock: consecutive ICCIDs (check digit
    recomputed) paired with consecutive IMSIs on the market's host network.

    Atomic. Idempotent: SIMs already in stock with the same ICCID and IMSI are skipped; an
    ICCID or IMSI already used by another SIM is refused. Returns how many were added.
    """
    market = _resolve_market(market)
    if not 1 <= count <= MAX_SIM_BATCH:
        raise ValidationError(_("A SIM batch holds 1 to %(max)s SIMs.") % {"max": MAX_SIM_BATCH})
    iccid = normalise_iccid(first_iccid)
    imsi = normalise_imsi(first_imsi, market.host_mcc, market.host_mnc)
    pairs: list[tuple[str, str]] = []
    for _index in range(count):
        pairs.append((iccid, imsi))
        iccid = next_iccid(iccid)
        imsi = str(int(imsi) + 1).zfill(15)
    last_imsi = pairs[-1][1]
    if len(last_imsi) != 15 or not last_imsi.startswith(market.host_mcc + market.host_mnc):
        raise ValidationError(_("The IMSI range runs past the host network's numbering."))
    with transaction.atomic():
        return _create_sims(market, pairs, SimCard.Status.AVAILABLE)


def _create_sims(market: Market, pairs: Sequence[tuple[str, str]], status: str) -> int:
    created = 0
    for start in range(0, len(pairs), 5_000):
        chunk = pairs[start : start + 5_000]
        by_iccid = dict(
            SimCard.objects.filter(iccid__in=[iccid for iccid, _imsi in chunk]).values_list(
                "iccid", "imsi"
            )
        )
        clash = SimCard.objects.filter(imsi__in=[imsi for _iccid, imsi in chunk]).exclude(
            iccid__in=[iccid for iccid, _imsi in chunk]
        )
        if clash.exists():
            raise ValidationError(
                _("IMSI %(imsi)s already belongs to another SIM.") % {"imsi": clash.first()}
            )
        new = []
        for iccid, imsi in chunk:
            if iccid in by_iccid:
                if by_iccid[iccid] != imsi:
                    raise ValidationError(
                        _("SIM %(iccid)s is already in stock with IMSI %(imsi)s.")
                        % {"iccid": iccid, "imsi": by_iccid[iccid]}
                    )
                continue
            new.append(SimCard(market=market, iccid=iccid, imsi=imsi, status=status))
        SimCard.objects.bulk_create(new)
        created += len(new)
    return created


def _next_free(queryset: Any) -> Any:
    """Lock and return the first free row of the queryset (ordered), or None.

    PostgreSQL: ``SKIP LOCKED`` lets concurrent orders each take a different row instead
    of queueing for the same one. SQLite has no row locks; its writers are serialised
    (``BEGIN IMMEDIATE``), so the conditional update below is enough.
    """
    if connection.features.has_select_for_update_skip_locked:
        queryset = queryset.select_for_update(skip_locked=True)
    return queryset.first()


def _allocate_number(market: Market, at: datetime) -> PhoneNumber:
    while True:
        number = _next_free(
            PhoneNumber.objects.filter(market=market, status=PhoneNumber.Status.AVAILABLE).order_by(
                "msisdn"
            )
        )
        if number is None:
            raise OutOfStockError(
                _("No free number is left in %(market)s.") % {"market": market.code}
            )
        taken = PhoneNumber.objects.filter(
            pk=number.pk, status=PhoneNumber.Status.AVAILABLE
        ).update(status=PhoneNumber.Status.ASSIGNED, status_changed_at=at)
        if taken:
            number.status = PhoneNumber.Status.ASSIGNED
            return number


def _allocate_sim(market: Market) -> SimCard:
    while True:
        sim = _next_free(
            SimCard.objects.filter(market=market, status=SimCard.Status.AVAILABLE).order_by("iccid")
        )
        if sim is None:
            raise OutOfStockError(
                _("No SIM is left in stock in %(market)s.") % {"market": market.code}
            )
        taken = SimCard.objects.filter(pk=sim.pk, status=SimCard.Status.AVAILABLE).update(
            status=SimCard.Status.ASSIGNED
        )
        if taken:
            sim.status = SimCard.Status.ASSIGNED
            return sim


# --- Lines ----------------------------------------------------------------------------------


def _check_plan_on_offer(market: Market, plan_code: str, at: datetime) -> None:
    catalog = selectors.catalog_in_force(market, at)
    if catalog is None:
        raise PlanNotOnOfferError(
            _("No catalogue of %(market)s is in force at %(at)s.")
            % {"market": market.code, "at": at.isoformat()}
        )
    codes = list(catalog.plans.values_list("code", flat=True))
    if plan_code not in codes:
        raise PlanNotOnOfferError(
            _(
                "Plan %(code)s is not on offer in %(market)s "
                "(catalogue %(version)s offers %(codes)s)."
            )
            % {
                "code": plan_code,
                "market": market.code,
                "version": catalog.version,
                "codes": ", ".join(codes),
            }
        )


def _check_cause(cause: Cause | None) -> None:
    if cause is not None and not cause.is_verified:
        raise LinesError(_("%(cause)s is not a verified cause yet.") % {"cause": cause.name})


@transaction.atomic
def order_line(
    user: User,
    market: Market | str,
    plan_code: str,
    cause: Cause | None = None,
    at: datetime | None = None,
    port_in: PortIn | None = None,
) -> Line:
    """Order a line for ``user``: takes the next free number (unless one is ported in) and
    the next SIM from stock, starts the plan and records the cause choice from ``at``.

    Atomic: a number or a SIM is never given twice, even to concurrent orders, and
    nothing is taken when anything is refused. The line is ``ordered`` until
    ``activate_line``. Raises ``PlanNotOnOfferError``, ``OutOfStockError``, ``LinesError`` (an
    unverified cause, a number already in use) or ``ValidationError`` (a bad port-in).
    """
    market = _resolve_market(market)
    at = at or timezone.now()
    if not user.is_active:
        raise LinesError(_("This account is disabled."))
    _check_plan_on_offer(market, plan_code, at)
    _check_cause(cause)
    request = normalise_port_in(port_in, market.code) if port_in is not None else None
    if request is not None and _msisdn_in_use(request.msisdn):
        raise LinesError(_("%(msisdn)s is already a Kindwave line.") % {"msisdn": request.msisdn})
    number: PhoneNumber | None = None
    if request is not None:
        msisdn = request.msisdn
    else:
        number = _allocate_number(market, at)
        msisdn = number.msisdn
    sim = _allocate_sim(market)
    line = Line.objects.create(
        owner=user,
        market=market,
        msisdn=msisdn,
        number=number,
        sim=sim,
        state=LineState.ORDERED,
        ordered_at=at,
        state_changed_at=at,
    )
    reason = (
        gettext_noop("ordered, porting the number in from %(donor)s")
        % {"donor": request.donor_operator}
        if request is not None
        else gettext_noop("ordered")
    )
    LineStateChange.objects.create(
        line=line, from_state="", to_state=LineState.ORDERED, at=at, reason=reason, actor=user
    )
    PlanSubscription.objects.create(line=line, plan_code=plan_code, valid_from=at)
    CauseChoice.objects.create(line=line, cause=cause, valid_from=at)
    if request is not None:
        PortInRequest.objects.create(
            line=line,
            msisdn=request.msisdn,
            donor_operator=request.donor_operator,
            code=request.code,
            account_number=request.account_number,
            pin=request.pin,
            requested_at=at,
        )
    return line


def _msisdn_in_use(msisdn: str) -> bool:
    return Line.objects.filter(msisdn=msisdn).exclude(state=LineState.TERMINATED).exists()


# Reasons written by the system are stored in English (marked for translation, so that a
# page can show them translated): the history must not change language with whoever
# happened to trigger the step.


def _transition(line: Line, event: str, at: datetime | None, reason: str, by: User | None) -> Line:
    """Apply a lifecycle event to the line if its state allows it, and record the step.

    The row is locked for the step, so two concurrent events on one line are applied one
    after the other, each checked against the state the other left.
    """
    at = at or timezone.now()
    locked = Line.objects.select_for_update().get(pk=line.pk)
    to_state = next_line_state(locked.state, event)
    if at < locked.state_changed_at:
        raise LinesError(
            _("The line's last change was at %(last)s; a new one cannot be dated before it.")
            % {"last": locked.state_changed_at.isoformat()}
        )
    fields = ["state", "state_changed_at"]
    from_state = locked.state
    locked.state, locked.state_changed_at = to_state, at
    if to_state == LineState.ACTIVE and locked.activated_at is None:
        locked.activated_at = at
        fields.append("activated_at")
    if to_state == LineState.TERMINATED:
        locked.terminated_at = at
        fields.append("terminated_at")
    locked.save(update_fields=fields)
    LineStateChange.objects.create(
        line=locked, from_state=from_state, to_state=to_state, at=at, reason=reason, actor=by
    )
    for name in fields:
        setattr(line, name, getattr(locked, name))
    return locked


@transaction.atomic
def activate_line(
    line: Line,
    iccid_confirmation: str | None = None,
    at: datetime | None = None,
    by: User | None = None,
) -> Line:
    """Activate an ordered line, once the subscriber has the SIM in hand.

    ``iccid_confirmation`` (the number printed on the SIM, as typed by the subscriber)
    must match the SIM sent for this line. Completes a port-in. Atomic.
    """
    if iccid_confirmation is not None:
        typed = normalise_iccid(iccid_confirmation)
        if typed != line.sim.iccid:
            raise ValidationError(
                _(
                    "ICCID %(iccid)s is not the SIM sent for this line; "
                    "check the number on the card."
                )
                % {"iccid": typed},
                code="iccid_mismatch",
            )
    at = at or timezone.now()
    result = _transition(line, LineEvent.ACTIVATE, at, gettext_noop("activated"), by)
    PortInRequest.objects.filter(line=line, completed_at__isnull=True).update(completed_at=at)
    return result


@transaction.atomic
def suspend_line(
    line: Line, reason: str, at: datetime | None = None, by: User | None = None
) -> Line:
    """Suspend an active line (lost phone, unpaid bill…): it keeps its number and plan."""
    return _transition(line, LineEvent.SUSPEND, at, reason or gettext_noop("suspended"), by)


@transaction.atomic
def resume_line(
    line: Line, reason: str = "", at: datetime | None = None, by: User | None = None
) -> Line:
    """Bring a suspended line back to active."""
    return _transition(line, LineEvent.RESUME, at, reason or gettext_noop("resumed"), by)


@transaction.atomic
def terminate_line(
    line: Line, reason: str, at: datetime | None = None, by: User | None = None
) -> Line:
    """End a line (or cancel an order). Final.

    The plan ends at ``at`` (later scheduled plan changes are dropped); the SIM is
    retired; the number rests in quarantine before it could be reused — or goes straight
    back to the pool when the order is cancelled before activation. Atomic.
    """
    at = at or timezone.now()
    was_active = line.activated_at is not None
    result = _transition(line, LineEvent.TERMINATE, at, reason or gettext_noop("terminated"), by)
    PlanSubscription.objects.filter(line=line, valid_from__gt=at).delete()
    PlanSubscription.objects.filter(line=line, valid_to__isnull=True).update(valid_to=at)
    PlanSubscription.objects.filter(line=line, valid_to__gt=at).update(valid_to=at)
    SimCard.objects.filter(pk=line.sim_id).update(status=SimCard.Status.RETIRED)
    if line.number_id is not None:
        PhoneNumber.objects.filter(pk=line.number_id).update(
            status=PhoneNumber.Status.QUARANTINED if was_active else PhoneNumber.Status.AVAILABLE,
            status_changed_at=at,
        )
    return result


@transaction.atomic
def change_plan(line: Line, plan_code: str, at: datetime | None = None) -> PlanSubscription:
    """Move the line to another plan from ``at`` (default now; may be in the future).

    The current plan ends exactly at ``at`` and the new one starts then. The plan must be
    on offer at ``at``; ``at`` must be after the latest plan started. Atomic.
    """
    at = at or timezone.now()
    locked = Line.objects.select_for_update().get(pk=line.pk)
    if locked.state == LineState.TERMINATED:
        raise LinesError(_("A terminated line cannot change plan."))
    _check_plan_on_offer(locked.market, plan_code, at)
    current = PlanSubscription.objects.filter(line=locked).order_by("-valid_from").first()
    if current is not None:
        if current.plan_code == plan_code:
            raise LinesError(_("The line is already on plan %(code)s.") % {"code": plan_code})
        if at <= current.valid_from:
            raise LinesError(
                _("A plan change must take effect after the current plan started (%(start)s).")
                % {"start": current.valid_from.isoformat()}
            )
        current.valid_to = at
        current.save(update_fields=["valid_to"])
    return PlanSubscription.objects.create(line=locked, plan_code=plan_code, valid_from=at)


@transaction.atomic
def choose_cause(line: Line, cause: Cause | None, at: datetime | None = None) -> CauseChoice:
    """Give the line's share to ``cause`` from ``at`` (default now); None: the foundation.

    Idempotent: choosing the cause already in force changes nothing. ``at`` must be after
    the latest choice. Only verified causes can be chosen. Atomic.
    """
    at = at or timezone.now()
    locked = Line.objects.select_for_update().get(pk=line.pk)
    if locked.state == LineState.TERMINATED:
        raise LinesError(_("A terminated line cannot change cause."))
    _check_cause(cause)
    latest = CauseChoice.objects.filter(line=locked).order_by("-valid_from").first()
    if latest is not None:
        if latest.cause_id == (cause.pk if cause is not None else None):
            return latest
        if at <= latest.valid_from:
            raise LinesError(
                _("A new cause choice must take effect after the latest one (%(start)s).")
                % {"start": latest.valid_from.isoformat()}
            )
    return CauseChoice.objects.create(line=locked, cause=cause, valid_from=at)


# --- Import of a simulated operator ---------------------------------------------------------

# The simulator writes subscribers.csv; one definition of its columns serves both sides.
SUBSCRIBER_COLUMNS = SUBSCRIBERS_HEADER
IMPORT_BATCH = 500
MAX_REPORTED_PROBLEMS = 50


class InvalidSimulationError(LinesError):
    """The simulated operator's files cannot be imported; ``problems`` says where and why."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        shown = self.problems[:MAX_REPORTED_PROBLEMS]
        more = len(self.problems) - len(shown)
        text = "\n".join(shown)
        if more:
            text += "\n" + _("… and %(count)s more problems") % {"count": more}
        super().__init__(text)


@dataclass(frozen=True)
class ImportSummary:
    """What ``import_simulated_operator`` did."""

    market: str
    rows: int
    lines_created: int
    lines_already_present: int
    users_created: int
    users_reused: int
    number_blocks_created: int
    sims_added_to_stock: int


@dataclass
class _Row:
    number: int
    ref: str
    full_name: str
    email: str
    language: str
    time_zone: str
    msisdn: str
    iccid: str
    imsi: str
    plan_code: str
    cause: Cause | None
    activated_at: datetime


def import_simulated_operator(
    directory: Path, progress: Callable[[int, int], None] | None = None
) -> ImportSummary:
    """Import the subscribers of a simulated operator (``subscribers.csv`` and
    ``simulation.json`` written by ``kindwave simulate``) as active Kindwave lines.

    Creates the number blocks and SIM stock of ``simulation.json``, then for each
    subscriber: a person (verified, no password), an active line with its number and
    SIM from the activation date, its plan and its cause (empty: no choice).
    Everything is checked before anything is written; ``InvalidSimulationError`` names
    every bad row. Idempotent: rows whose number is already a line are skipped, so a
    re-run — or a run resumed after a crash — imports nothing twice. Written in batches
    (each atomic); ``progress(done, total)`` is called after each.
    """
    simulation = _read_simulation(directory / "simulation.json")
    market = Market.objects.filter(code=simulation["country"]).first()
    if market is None:
        raise InvalidSimulationError(
            [
                _("No catalogue is loaded for %(country)s: run `kindwave catalog load` first.")
                % {"country": simulation["country"]}
            ]
        )
    if simulation["plmn"] not in (None, market.host_plmn):
        raise InvalidSimulationError(
            [
                _("simulation.json: the host network is %(plmn)s, but %(market)s runs on %(ours)s")
                % {"plmn": simulation["plmn"], "market": market.code, "ours": market.host_plmn}
            ]
        )
    rows, skipped = _read_subscribers(directory / "subscribers.csv", market)
    blocks_created = sims_added = 0
    try:
        for index, block in enumerate(simulation["number_blocks"]):
            where = f"simulation.json number_blocks[{index}]"
            _block, created = add_number_block(market, block["first"], block["last"])
            blocks_created += int(created)
        for index, sims in enumerate(simulation["sim_ranges"]):
            where = f"simulation.json sim_ranges[{index}]"
            sims_added += add_sims(market, sims["iccid_first"], sims["imsi_first"], sims["count"])
    except ValidationError as error:
        raise InvalidSimulationError(
            [f"{where}: {message}" for message in error.messages]
        ) from None
    emails = {row.email for row in rows}
    users = {
        user.email: user
        for chunk in _chunks(sorted(emails))
        for user in User.objects.filter(email__in=chunk)
    }
    reused = len(users)
    done, total = 0, len(rows)
    if progress is not None:
        progress(0, total)
    for start in range(0, total, IMPORT_BATCH):
        batch = rows[start : start + IMPORT_BATCH]
        _import_batch(market, batch, users)
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return ImportSummary(
        market=market.code,
        rows=total + skipped,
        lines_created=total,
        lines_already_present=skipped,
        users_created=len(emails) - reused,
        users_reused=reused,
        number_blocks_created=blocks_created,
        sims_added_to_stock=sims_added,
    )


def _read_simulation(path: Path) -> dict[str, Any]:
    """The parts of ``simulation.json`` the import needs, checked.

    ``host_network`` gives the country and PLMN; ``number_blocks`` is a list of
    ``{"first", "last"}`` (E.164) and ``sim_ranges`` a list of ``{"iccid_first",
    "imsi_first", "count", …}`` (SIM k of a range: ICCID serial + k, IMSI + k).
    """
    try:
        data = json.loads(path.read_text("utf-8"))
    except OSError as error:
        raise InvalidSimulationError([f"{path}: {error.strerror or error}"]) from None
    except (ValueError, UnicodeDecodeError) as error:
        raise InvalidSimulationError([f"{path}: {error}"]) from None
    if not isinstance(data, dict):
        raise InvalidSimulationError([_("%(path)s: must hold a JSON object") % {"path": path}])
    problems: list[str] = []
    host = data.get("host_network")
    host = host if isinstance(host, dict) else {}
    country = host.get("country", data.get("country"))
    if country not in Market.Country.values:
        problems.append(
            _("%(file)s: host_network.country must be one of %(countries)s")
            % {"file": path.name, "countries": ", ".join(Market.Country.values)}
        )
    blocks = data.get("number_blocks", [])
    if not isinstance(blocks, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("first"), str)
        and isinstance(item.get("last"), str)
        for item in blocks
    ):
        problems.append(
            _('%(file)s: number_blocks must be a list of {"first": …, "last": …}')
            % {"file": path.name}
        )
    sims = data.get("sim_ranges", [])
    if not isinstance(sims, list) or not all(
        isinstance(item, dict)
        and isinstance(item.get("iccid_first"), str)
        and isinstance(item.get("imsi_first"), str)
        and isinstance(item.get("count"), int)
        for item in sims
    ):
        problems.append(
            _('%(file)s: sim_ranges must be a list of {"iccid_first", "imsi_first", "count"}')
            % {"file": path.name}
        )
    if problems:
        raise InvalidSimulationError(problems)
    return {
        "country": country,
        "plmn": host.get("plmn"),
        "number_blocks": blocks,
        "sim_ranges": sims,
    }


def _read_subscribers(path: Path, market: Market) -> tuple[list[_Row], int]:
    """Read and check every row; return the rows still to import and how many are done."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = [name for name in SUBSCRIBER_COLUMNS if name not in (reader.fieldnames or [])]
            if missing:
                raise InvalidSimulationError(
                    [
                        _("%(file)s: missing columns %(columns)s")
                        % {"file": path.name, "columns": ", ".join(missing)}
                    ]
                )
            raw_rows = list(reader)
    except OSError as error:
        raise InvalidSimulationError([f"{path}: {error.strerror or error}"]) from None
    except UnicodeDecodeError as error:
        raise InvalidSimulationError([f"{path}: not UTF-8 ({error})"]) from None

    plan_codes = set(
        Plan.objects.filter(catalog__market=market).values_list("code", flat=True).distinct()
    )
    causes = {cause.slug: cause for cause in Cause.objects.all()}
    zones = available_timezones()
    languages = {code for code, _name in settings.LANGUAGES}
    problems: list[str] = []
    rows: list[_Row] = []
    seen: dict[str, dict[str, int]] = {"msisdn": {}, "iccid": {}, "imsi": {}, "email": {}}

    for number, raw in enumerate(raw_rows, start=2):  # line 1 is the header
        ref = (raw.get("subscriber_ref") or "").strip()
        where = _("%(file)s line %(line)s (subscriber %(ref)s)") % {
            "file": path.name,
            "line": number,
            "ref": ref or "?",
        }
        row_problems: list[str] = []
        msisdn = _checked(
            where, row_problems, normalise_msisdn, raw.get("msisdn") or "", market.code
        )
        iccid = _checked(where, row_problems, normalise_iccid, raw.get("iccid") or "")
        imsi = _checked(
            where,
            row_problems,
            normalise_imsi,
            raw.get("imsi") or "",
            market.host_mcc,
            market.host_mnc,
        )
        email = (raw.get("email") or "").strip().lower()
        _checked(where, row_problems, validate_email, email)
        language = (raw.get("language") or "").strip()
        if language not in languages:
            row_problems.append(
                f"{where}: "
                + _("language %(value)r is not one of %(languages)s")
                % {"value": language, "languages": ", ".join(sorted(languages))}
            )
        time_zone = (raw.get("time_zone") or "").strip()
        if time_zone not in zones:
            row_problems.append(
                f"{where}: " + _("%(value)r is not a time zone") % {"value": time_zone}
            )
        plan_code = (raw.get("plan_code") or "").strip()
        if plan_code not in plan_codes:
            row_problems.append(
                f"{where}: "
                + _("unknown plan code %(code)r (%(market)s plans: %(codes)s)")
                % {"code": plan_code, "market": market.code, "codes": ", ".join(sorted(plan_codes))}
            )
        slug = (raw.get("cause_slug") or "").strip()
        cause = causes.get(slug) if slug else None
        if slug and cause is None:
            row_problems.append(f"{where}: " + _("unknown cause slug %(slug)r") % {"slug": slug})
        elif cause is not None and not cause.is_verified:
            row_problems.append(f"{where}: " + _("cause %(slug)r is not verified") % {"slug": slug})
        activated_at = _parse_instant(raw.get("activated_at") or "")
        if activated_at is None:
            row_problems.append(
                f"{where}: "
                + _("activated_at %(value)r must be an ISO 8601 date-time with a time zone")
                % {"value": raw.get("activated_at")}
            )
        for key, value in (("msisdn", msisdn), ("iccid", iccid), ("imsi", imsi), ("email", email)):
            if value and value in seen[key]:
                row_problems.append(
                    f"{where}: "
                    + _("%(key)s %(value)s already appears on line %(other)s")
                    % {"key": key, "value": value, "other": seen[key][value]}
                )
            elif value:
                seen[key][value] = number
        if row_problems:
            problems.extend(row_problems)
            continue
        rows.append(
            _Row(
                number=number,
                ref=ref,
                full_name=" ".join(
                    part
                    for part in (
                        (raw.get("given_name") or "").strip(),
                        (raw.get("family_name") or "").strip(),
                    )
                    if part
                ),
                email=email,
                language=language,
                time_zone=time_zone,
                msisdn=msisdn,
                iccid=iccid,
                imsi=imsi,
                plan_code=plan_code,
                cause=cause,
                activated_at=activated_at,  # type: ignore[arg-type]
            )
        )
    if problems:
        raise InvalidSimulationError(problems)

    # Against the database: numbers already lines are done; SIMs must be free.
    in_use = {
        msisdn
        for chunk in _chunks([row.msisdn for row in rows])
        for msisdn in Line.objects.exclude(state=LineState.TERMINATED)
        .filter(msisdn__in=chunk)
        .values_list("msisdn", flat=True)
    }
    todo = [row for row in rows if row.msisdn not in in_use]
    # SIMs may already be in stock (from sim_ranges): then they must be free and paired
    # with the same IMSI; an IMSI may not belong to another SIM.
    by_iccid = {row.iccid: row for row in todo}
    for chunk in _chunks(list(by_iccid)):
        for sim in SimCard.objects.filter(iccid__in=chunk):
            row = by_iccid[sim.iccid]
            if sim.imsi != row.imsi or sim.status != SimCard.Status.AVAILABLE:
                problems.append(
                    _("%(file)s line %(line)s: SIM %(iccid)s is already in use or has another IMSI")
                    % {"file": path.name, "line": row.number, "iccid": sim.iccid}
                )
    by_imsi = {row.imsi: row for row in todo}
    for chunk in _chunks(list(by_imsi)):
        for imsi, iccid in SimCard.objects.filter(imsi__in=chunk).values_list("imsi", "iccid"):
            if by_imsi[imsi].iccid != iccid:
                problems.append(
                    _("%(file)s line %(line)s: IMSI %(imsi)s already belongs to SIM %(iccid)s")
                    % {
                        "file": path.name,
                        "line": by_imsi[imsi].number,
                        "imsi": imsi,
                        "iccid": iccid,
                    }
                )
    for chunk in _chunks([row.msisdn for row in todo]):
        taken = PhoneNumber.objects.filter(msisdn__in=chunk).exclude(
            status=PhoneNumber.Status.AVAILABLE
        )
        for pooled in taken:
            problems.append(
                _("%(file)s: number %(msisdn)s is not free in the pool (%(status)s)")
                % {
                    "file": path.name,
                    "msisdn": pooled.msisdn,
                    "status": pooled.get_status_display(),
                }
            )
    if problems:
        raise InvalidSimulationError(problems)
    return todo, len(rows) - len(todo)


def _chunks(values: Sequence[str], size: int = 5_000) -> Iterable[Sequence[str]]:
    """Slices small enough for one ``IN (…)`` query on every database."""
    return (values[start : start + size] for start in range(0, len(values), size))


def _checked(where: str, into: list[str], check: Callable[..., Any], *args: Any) -> Any:
    """``check(*args)``, or None with its reasons added to ``into`` when it is refused."""
    try:
        result = check(*args)
    except ValidationError as error:
        into.extend(f"{where}: {message}" for message in error.messages)
        return None
    return args[0] if result is None else result


def _parse_instant(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return value if value.tzinfo is not None and value.utcoffset() is not None else None


@transaction.atomic
def _import_batch(market: Market, batch: Iterable[_Row], users: dict[str, User]) -> None:
    rows = list(batch)
    for row in rows:
        if row.email not in users:
            users[row.email] = accounts.create_subscriber(
                email=row.email,
                full_name=row.full_name,
                language=row.language,
                time_zone=row.time_zone,
                verified=True,
            )
    # SIMs in stock (checked free beforehand) are taken; the others are created assigned.
    sim_by_iccid = {
        sim.iccid: sim
        for sim in SimCard.objects.filter(
            iccid__in=[row.iccid for row in rows], status=SimCard.Status.AVAILABLE
        )
    }
    SimCard.objects.filter(pk__in=[sim.pk for sim in sim_by_iccid.values()]).update(
        status=SimCard.Status.ASSIGNED
    )
    new_sims = SimCard.objects.bulk_create(
        SimCard(market=market, iccid=row.iccid, imsi=row.imsi, status=SimCard.Status.ASSIGNED)
        for row in rows
        if row.iccid not in sim_by_iccid
    )
    sim_by_iccid.update((sim.iccid, sim) for sim in new_sims)
    numbers = {
        number.msisdn: number
        for number in PhoneNumber.objects.filter(msisdn__in=[row.msisdn for row in rows])
    }
    now = timezone.now()
    for row in rows:
        number = numbers.get(row.msisdn)
        if number is not None:
            number.status, number.status_changed_at = PhoneNumber.Status.ASSIGNED, row.activated_at
    PhoneNumber.objects.bulk_update(numbers.values(), ["status", "status_changed_at"])
    lines = Line.objects.bulk_create(
        Line(
            owner=users[row.email],
            market=market,
            msisdn=row.msisdn,
            number=numbers.get(row.msisdn),
            sim=sim_by_iccid[row.iccid],
            state=LineState.ACTIVE,
            ordered_at=row.activated_at,
            activated_at=row.activated_at,
            state_changed_at=row.activated_at,
            external_ref=row.ref[:64],
        )
        for row in rows
    )
    imported = gettext_noop("imported from the simulated operator")
    LineStateChange.objects.bulk_create(
        change
        for line, row in zip(lines, rows, strict=True)
        for change in (
            LineStateChange(
                line=line, from_state="", to_state=LineState.ORDERED, at=row.activated_at,
                reason=imported, recorded_at=now,
            ),
            LineStateChange(
                line=line, from_state=LineState.ORDERED, to_state=LineState.ACTIVE,
                at=row.activated_at, reason=imported, recorded_at=now,
            ),
        )
    )  # fmt: skip
    PlanSubscription.objects.bulk_create(
        PlanSubscription(line=line, plan_code=row.plan_code, valid_from=row.activated_at)
        for line, row in zip(lines, rows, strict=True)
    )
    CauseChoice.objects.bulk_create(
        CauseChoice(line=line, cause=row.cause, valid_from=row.activated_at, chosen_at=now)
        for line, row in zip(lines, rows, strict=True)
    )
