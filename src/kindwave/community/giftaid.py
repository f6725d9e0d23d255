"""UK Gift Aid: the donor's declaration and the schedule a charity attaches to its claim.

A UK taxpayer giving to a UK charity may declare Gift Aid; the charity then claims 25p
per £1 from HMRC. Kindwave records the declaration on the donation (the donor's name,
home address and postcode, the wording accepted and when) and exports, per cause and
period, the rows of HMRC's Charities Online *Gift Aid donation schedule* (see
docs/donations.md for the columns and their source).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TextIO

from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from kindwave.causes.models import Cause
from kindwave.community.models import Donation
from kindwave.lib.money import minor_to_major

#: HMRC's model declaration for a single donation (Gift Aid declarations guidance). The
#: donor accepts exactly this text; it is stored with the donation.
DECLARATION = (
    "I want to Gift Aid my donation of {amount} to {charity}. I am a UK taxpayer and "
    "understand that if I pay less Income Tax and/or Capital Gains Tax than the amount of "
    "Gift Aid claimed on all my donations in that tax year it is my responsibility to pay "
    "any difference."
)

#: The Charities Online schedule's columns, in its order.
SCHEDULE_COLUMNS = (
    "Title",
    "First name or initial",
    "Last name",
    "House name or number",
    "Postcode",
    "Aggregated donations",
    "Sponsored event",
    "Donation date",
    "Amount",
)

# A UK postcode: outward code (area, district) and inward code (sector, unit).
_POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?) ?([0-9][A-Z]{2})$")


class GiftAidError(Exception):
    """A declaration that cannot be accepted; the message says why."""


@dataclass(frozen=True)
class GiftAidDeclaration:
    """What the donor filled in. ``accepted`` is true when they ticked HMRC's wording."""

    first_name: str
    last_name: str
    house: str  # house name or number
    address: str  # the rest of the home address (street, town)
    postcode: str
    accepted: bool
    title: str = ""


def normalise_postcode(postcode: str) -> str:
    """``sw1a1aa`` → ``SW1A 1AA`` (capitals and one space, as HMRC asks); GiftAidError if
    it is not a UK postcode."""
    compact = re.sub(r"\s+", "", postcode or "").upper()
    match = _POSTCODE.match(compact)
    if match is None:
        raise GiftAidError(
            _("%(postcode)r is not a UK postcode (for example SW1A 1AA).") % {"postcode": postcode}
        )
    return f"{match.group(1)} {match.group(2)}"


def declaration_text(amount: str, charity: str) -> str:
    """HMRC's wording for a donation of ``amount`` (formatted) to ``charity``."""
    return DECLARATION.format(amount=amount, charity=charity)


def check_declaration(
    declaration: GiftAidDeclaration, *, cause: Cause, currency: str
) -> GiftAidDeclaration:
    """The declaration cleaned (spaces trimmed, postcode normalised, a hyphen in the last
    name replaced by a space as HMRC asks), or GiftAidError: a cause outside the UK, a
    donation not in pounds, the wording not accepted, a missing or over-long name, house
    or address, an invalid postcode."""
    if cause.country != Cause.Country.GB:
        raise GiftAidError(_("Gift Aid applies only to donations to UK charities."))
    if currency != "GBP":
        raise GiftAidError(_("Gift Aid applies only to donations in pounds sterling."))
    if not declaration.accepted:
        raise GiftAidError(_("To add Gift Aid, please confirm the declaration."))
    first, last = declaration.first_name.strip(), declaration.last_name.strip()
    last = re.sub(r"\s*-\s*", " ", last)
    title, house = declaration.title.strip(), declaration.house.strip()
    address = declaration.address.strip()
    limits = (
        (first, 1, 35, _("first name")),
        (last, 1, 35, _("last name")),
        (title, 0, 4, pgettext("form of address", "title")),
        (house, 1, 40, _("house name or number")),
        (address, 0, 300, _("address")),
    )
    for value, shortest, longest, what in limits:
        if not shortest <= len(value) <= longest:
            raise GiftAidError(
                _("For Gift Aid, the %(what)s must be %(shortest)s to %(longest)s characters.")
                % {"what": what, "shortest": shortest, "longest": longest}
            )
    return GiftAidDeclaration(
        first_name=first,
        last_name=last,
        house=house,
        address=address,
        postcode=normalise_postcode(declaration.postcode),
        accepted=True,
        title=title,
    )


def claimable(cause: Cause, start: date, end: date) -> Iterable[Donation]:
    """The cause's completed Gift Aid donations completed from ``start`` to ``end``
    inclusive (UTC dates), oldest first."""
    return (
        Donation.objects.filter(
            cause=cause,
            gift_aid=True,
            currency="GBP",
            state=Donation.State.COMPLETED,
            completed_at__gte=datetime.combine(start, time.min, tzinfo=UTC),
            completed_at__lt=datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC),
        )
        .order_by("completed_at", "pk")
        .iterator()
    )


@dataclass(frozen=True)
class ExportSummary:
    rows: int
    total_minor: int


def write_schedule(cause: Cause, start: date, end: date, out: TextIO | None = None) -> str:
    """HMRC's schedule for ``cause`` and the period, as CSV text (also written to ``out``
    if given): one row per completed Gift Aid donation — no aggregation, no sponsored
    events — with the donation date as DD/MM/YY and the amount in pounds with two
    decimals and no £ sign. Reads only."""
    if start > end:
        raise GiftAidError(_("The period starts after it ends."))
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SCHEDULE_COLUMNS)
    for donation in claimable(cause, start, end):
        assert donation.completed_at is not None  # completed donations have it  # noqa: S101
        writer.writerow(
            (
                donation.gift_aid_title,
                donation.gift_aid_first_name,
                donation.gift_aid_last_name,
                donation.gift_aid_house,
                donation.gift_aid_postcode,
                "",
                "",
                donation.completed_at.astimezone(UTC).strftime("%d/%m/%y"),
                f"{minor_to_major(donation.amount_minor, 'GBP'):.2f}",
            )
        )
    text = buffer.getvalue()
    if out is not None:
        out.write(text)
    return text


def summarise(text: str) -> ExportSummary:
    """Rows and total (pence) of a schedule written by :func:`write_schedule`."""
    rows = list(csv.DictReader(io.StringIO(text)))
    total = sum(int((row["Amount"]).replace(".", "")) for row in rows)
    return ExportSummary(rows=len(rows), total_minor=total)
