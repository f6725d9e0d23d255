"""Mobile lines and the plan catalogue they are sold from.

Two halves:

* the **catalogue**: per market, immutable versions loaded from a TOML file (see
  ``docs/catalogue.md``) — destination classes by number prefix, roaming zones by MCC,
  plans with allowances and prices. A price change is a new version with a later
  ``effective_from``; the version in force at an instant is a pure rule.
* the **lines**: an MSISDN and a SIM owned by a person, with an explicit lifecycle
  (``LINE_TRANSITIONS``), the history of its states, its plan subscriptions and the
  cause its owner chose — each history read through a pure "in force at T" rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Final, TypeVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

T = TypeVar("T")

# Money: every supported currency has two minor-unit digits (pence, cents).
CURRENCY_EXPONENTS: Final[Mapping[str, int]] = MappingProxyType({"GBP": 2, "EUR": 2, "USD": 2})
# Per-unit rates are exact decimals in major units, rated later with one rounding per
# invoice line; six places is enough for a price per kilobyte.
RATE_DIGITS: Final = 12
RATE_PLACES: Final = 6


def latest_starting_by(
    items: Iterable[T], at: datetime, start: Callable[[T], datetime]
) -> T | None:
    """The item whose start is the latest one at or before ``at`` (None before the first).

    Exactly at a change instant the new item applies. Items are compared by start only;
    callers keep starts unique (the tables have unique constraints on them).
    """
    best: T | None = None
    for item in items:
        begins = start(item)
        if begins <= at and (best is None or begins > start(best)):
            best = item
    return best


# --- Markets and the catalogue --------------------------------------------------------------


class Market(models.Model):
    """A country the operator sells lines in, on one host network, billing in one currency."""

    class Country(models.TextChoices):
        GB = "GB", _("United Kingdom")
        FR = "FR", _("France")
        US = "US", _("United States")

    # The currency each market bills in, and the mobile country codes of its territory.
    CURRENCIES: Final[Mapping[str, str]] = MappingProxyType({"GB": "GBP", "FR": "EUR", "US": "USD"})
    MCCS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
        {
            "GB": frozenset({"234", "235"}),
            "FR": frozenset({"208"}),
            "US": frozenset({"310", "311", "312", "313", "314", "315", "316"}),
        }
    )

    code = models.CharField(_("country"), max_length=2, choices=Country.choices, unique=True)
    currency = models.CharField(_("currency"), max_length=3)
    host_mcc = models.CharField(_("host network MCC"), max_length=3)
    host_mnc = models.CharField(_("host network MNC"), max_length=3)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("market")
        verbose_name_plural = _("markets")
        ordering = ["code"]

    def __str__(self) -> str:
        return str(self.get_code_display())

    @property
    def host_plmn(self) -> str:
        """The host network as ``MCC-MNC``, e.g. ``234-30``."""
        return f"{self.host_mcc}-{self.host_mnc}"


class CatalogVersion(models.Model):
    """One loaded catalogue file for a market. Immutable: a change is a new version."""

    class TaxMode(models.TextChoices):
        INCLUSIVE = "inclusive", _("Prices include VAT")
        EXCLUSIVE = "exclusive", _("Prices exclude VAT")

    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="catalog_versions", verbose_name=_("market")
    )
    version = models.CharField(_("version"), max_length=40)
    effective_from = models.DateTimeField(_("effective from"))
    currency = models.CharField(_("currency"), max_length=3)
    host_plmn = models.CharField(_("host network"), max_length=7)
    tax_mode = models.CharField(_("tax mode"), max_length=16, choices=TaxMode.choices)
    vat_rate = models.DecimalField(_("VAT rate"), max_digits=5, decimal_places=4)
    description = models.TextField(_("description"), blank=True)
    source_name = models.CharField(_("source file"), max_length=255, blank=True)
    source_sha256 = models.CharField(_("SHA-256 of the file"), max_length=64)
    source_text = models.TextField(_("file as loaded"))
    loaded_at = models.DateTimeField(_("loaded at"), default=timezone.now)

    class Meta:
        verbose_name = _("catalogue version")
        verbose_name_plural = _("catalogue versions")
        ordering = ["market__code", "-effective_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["market", "version"], name="lines_catalog_version_unique"
            ),
            models.UniqueConstraint(
                fields=["market", "effective_from"], name="lines_catalog_effective_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.market.code} {self.version}"

    @staticmethod
    def in_force(versions: Iterable[CatalogVersion], at: datetime) -> CatalogVersion | None:
        """The version of one market in force at ``at``: the latest that took effect by then."""
        return latest_starting_by(versions, at, lambda version: version.effective_from)


class DestinationClass(models.Model):
    """A class of called numbers priced alike (national, mobile, an international band…)."""

    class Kind(models.TextChoices):
        NATIONAL = "national", _("National (landline)")
        MOBILE = "mobile", _("Mobile")
        INTERNATIONAL = "international", _("International")
        PREMIUM = "premium", _("Premium rate")
        FREE = "free", _("Freephone")
        SHORT_CODE = "short_code", _("Short code")

    catalog = models.ForeignKey(
        CatalogVersion,
        on_delete=models.CASCADE,
        related_name="destination_classes",
        verbose_name=_("catalogue version"),
    )
    code = models.CharField(_("code"), max_length=40)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_fr = models.CharField(_("name (French)"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("destination class")
        verbose_name_plural = _("destination classes")
        ordering = ["catalog", "position"]
        constraints = [
            models.UniqueConstraint(fields=["catalog", "code"], name="lines_destination_unique"),
        ]

    def __str__(self) -> str:
        return self.code


class DestinationPrefix(models.Model):
    """A number prefix (``+447``, ``+33800``, ``999``) of a destination class; longest wins."""

    catalog = models.ForeignKey(
        CatalogVersion,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("catalogue version"),
    )
    destination_class = models.ForeignKey(
        DestinationClass,
        on_delete=models.CASCADE,
        related_name="prefixes",
        verbose_name=_("destination class"),
    )
    prefix = models.CharField(_("prefix"), max_length=17)

    class Meta:
        verbose_name = _("destination prefix")
        verbose_name_plural = _("destination prefixes")
        ordering = ["prefix"]
        constraints = [
            models.UniqueConstraint(fields=["catalog", "prefix"], name="lines_prefix_unique"),
        ]

    def __str__(self) -> str:
        return self.prefix


def longest_prefix_match(number: str, prefixes: Mapping[str, T]) -> T | None:
    """The value of the longest key of ``prefixes`` that ``number`` starts with (None if none).

    International numbers are written ``+`` and digits, short codes digits only, as in
    the catalogue; ``+`` alone is the catch-all for any international number.
    """
    for length in range(len(number), 0, -1):
        value = prefixes.get(number[:length])
        if value is not None:
            return value
    return None


class RoamingZone(models.Model):
    """Where a subscriber is, by the MCC of the visited network, and what it costs there."""

    class Kind(models.TextChoices):
        HOME = "home", _("Home")
        ROAM_LIKE_AT_HOME = "roam_like_at_home", _("Roam like at home")
        PRICED = "priced", _("Priced roaming")
        REST_OF_WORLD = "rest_of_world", _("Rest of the world")

    catalog = models.ForeignKey(
        CatalogVersion,
        on_delete=models.CASCADE,
        related_name="roaming_zones",
        verbose_name=_("catalogue version"),
    )
    code = models.CharField(_("code"), max_length=40)
    kind = models.CharField(_("kind"), max_length=24, choices=Kind.choices)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_fr = models.CharField(_("name (French)"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    # Prices only for zones that are not rated as home (NULL there).
    voice_out_per_minute = models.DecimalField(
        _("outgoing call, per minute"),
        max_digits=RATE_DIGITS,
        decimal_places=RATE_PLACES,
        null=True,
        blank=True,
    )
    voice_in_per_minute = models.DecimalField(
        _("incoming call, per minute"),
        max_digits=RATE_DIGITS,
        decimal_places=RATE_PLACES,
        null=True,
        blank=True,
    )
    sms_out = models.DecimalField(
        _("SMS sent"), max_digits=RATE_DIGITS, decimal_places=RATE_PLACES, null=True, blank=True
    )
    sms_in = models.DecimalField(
        _("SMS received"), max_digits=RATE_DIGITS, decimal_places=RATE_PLACES, null=True, blank=True
    )
    data_per_mb = models.DecimalField(
        _("data, per MB"), max_digits=RATE_DIGITS, decimal_places=RATE_PLACES, null=True, blank=True
    )

    class Meta:
        verbose_name = _("roaming zone")
        verbose_name_plural = _("roaming zones")
        ordering = ["catalog", "position"]
        constraints = [
            models.UniqueConstraint(fields=["catalog", "code"], name="lines_zone_unique"),
        ]

    def __str__(self) -> str:
        return self.code

    @property
    def rated_as_home(self) -> bool:
        return self.kind in (self.Kind.HOME, self.Kind.ROAM_LIKE_AT_HOME)


class RoamingZoneCountry(models.Model):
    """A mobile country code (MCC) that belongs to a roaming zone."""

    catalog = models.ForeignKey(
        CatalogVersion,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("catalogue version"),
    )
    zone = models.ForeignKey(
        RoamingZone, on_delete=models.CASCADE, related_name="countries", verbose_name=_("zone")
    )
    mcc = models.CharField(_("MCC"), max_length=3)

    class Meta:
        verbose_name = _("roaming zone country")
        verbose_name_plural = _("roaming zone countries")
        ordering = ["mcc"]
        constraints = [
            models.UniqueConstraint(fields=["catalog", "mcc"], name="lines_zone_mcc_unique"),
        ]

    def __str__(self) -> str:
        return self.mcc


class Plan(models.Model):
    """A plan as offered by one catalogue version. Subscriptions refer to it by code."""

    class Kind(models.TextChoices):
        BUNDLE = "bundle", _("Bundle")
        PAYG = "payg", _("Pay as you go")

    catalog = models.ForeignKey(
        CatalogVersion,
        on_delete=models.CASCADE,
        related_name="plans",
        verbose_name=_("catalogue version"),
    )
    code = models.SlugField(_("code"), max_length=40)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name_en = models.CharField(_("name (English)"), max_length=100)
    name_fr = models.CharField(_("name (French)"), max_length=100)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    monthly_fee_minor = models.PositiveIntegerField(_("monthly fee (minor units)"))
    currency = models.CharField(_("currency"), max_length=3)
    # NULL = unlimited.
    included_minutes = models.PositiveIntegerField(_("included minutes"), null=True, blank=True)
    included_sms = models.PositiveIntegerField(_("included SMS"), null=True, blank=True)
    included_data_mb = models.PositiveIntegerField(_("included data (MB)"), null=True, blank=True)
    allowance_covers = models.ManyToManyField(
        DestinationClass,
        related_name="+",
        blank=True,
        verbose_name=_("destinations the allowances cover"),
    )
    data_per_mb = models.DecimalField(
        _("data beyond the allowance, per MB"), max_digits=RATE_DIGITS, decimal_places=RATE_PLACES
    )
    call_minimum_seconds = models.PositiveIntegerField(_("minimum charge per call (seconds)"))
    call_increment_seconds = models.PositiveIntegerField(_("charging increment (seconds)"))

    class Meta:
        verbose_name = _("plan")
        verbose_name_plural = _("plans")
        ordering = ["catalog", "position"]
        constraints = [
            models.UniqueConstraint(fields=["catalog", "code"], name="lines_plan_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.code} ({self.catalog})"

    def name(self, language: str) -> str:
        """The plan's name in ``language`` (French for ``fr…``, English otherwise)."""
        return self.name_fr if language.startswith("fr") else self.name_en


class PlanRate(models.Model):
    """A plan's price per minute and per SMS to one destination class (beyond allowances)."""

    plan = models.ForeignKey(
        Plan, on_delete=models.CASCADE, related_name="rates", verbose_name=_("plan")
    )
    destination_class = models.ForeignKey(
        DestinationClass,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("destination class"),
    )
    voice_per_minute = models.DecimalField(
        _("call, per minute"), max_digits=RATE_DIGITS, decimal_places=RATE_PLACES
    )
    sms_per_message = models.DecimalField(
        _("SMS, per message"), max_digits=RATE_DIGITS, decimal_places=RATE_PLACES
    )

    class Meta:
        verbose_name = _("plan rate")
        verbose_name_plural = _("plan rates")
        constraints = [
            models.UniqueConstraint(fields=["plan", "destination_class"], name="lines_rate_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.plan.code} → {self.destination_class.code}"


# --- Number and SIM stock -------------------------------------------------------------------


class NumberBlock(models.Model):
    """A range of numbers the operator holds, from ``first`` to ``last`` inclusive (E.164)."""

    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="number_blocks", verbose_name=_("market")
    )
    first = models.CharField(_("first number"), max_length=16)
    last = models.CharField(_("last number"), max_length=16)
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("number block")
        verbose_name_plural = _("number blocks")
        ordering = ["market", "first"]
        constraints = [
            models.UniqueConstraint(fields=["first"], name="lines_number_block_first_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.first}…{self.last}"

    @property
    def size(self) -> int:
        return int(self.last[1:]) - int(self.first[1:]) + 1


class PhoneNumber(models.Model):
    """One number of a block: available, assigned to a line, or resting after a termination."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("Available")
        ASSIGNED = "assigned", _("Assigned")
        QUARANTINED = "quarantined", _("Quarantined")

    block = models.ForeignKey(
        NumberBlock, on_delete=models.PROTECT, related_name="numbers", verbose_name=_("block")
    )
    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="+", verbose_name=_("market")
    )
    msisdn = models.CharField(_("MSISDN"), max_length=16, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.AVAILABLE
    )
    status_changed_at = models.DateTimeField(_("status changed at"), default=timezone.now)

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["msisdn"]
        indexes = [
            models.Index(fields=["market", "status", "msisdn"], name="lines_number_free_idx")
        ]

    def __str__(self) -> str:
        return self.msisdn


class SimCard(models.Model):
    """A physical or e-SIM profile: ICCID printed on the card, IMSI on the host network."""

    class Status(models.TextChoices):
        AVAILABLE = "available", _("In stock")
        ASSIGNED = "assigned", _("Assigned")
        RETIRED = "retired", _("Retired")

    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="sim_cards", verbose_name=_("market")
    )
    iccid = models.CharField(_("ICCID"), max_length=20, unique=True)
    imsi = models.CharField(_("IMSI"), max_length=15, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.AVAILABLE
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now)

    class Meta:
        verbose_name = _("SIM card")
        verbose_name_plural = _("SIM cards")
        ordering = ["iccid"]
        indexes = [models.Index(fields=["market", "status", "iccid"], name="lines_sim_free_idx")]

    def __str__(self) -> str:
        return self.iccid


# --- Lines and their lifecycle --------------------------------------------------------------


class LineState(models.TextChoices):
    ORDERED = "ordered", _("Ordered")
    ACTIVE = "active", _("Active")
    SUSPENDED = "suspended", _("Suspended")
    TERMINATED = "terminated", _("Terminated")


class LineEvent(models.TextChoices):
    ACTIVATE = "activate", _("activate")
    SUSPEND = "suspend", _("suspend")
    RESUME = "resume", _("resume")
    TERMINATE = "terminate", _("terminate")


# The lifecycle of a line, in one place: each event, the states it may start from and the
# state it leads to. A cancelled order is terminated straight from "ordered"; a suspended
# line (lost phone, unpaid bill) is resumed or terminated.
LINE_LIFECYCLE: Final[Mapping[str, tuple[frozenset[str], str]]] = MappingProxyType(
    {
        LineEvent.ACTIVATE: (frozenset({LineState.ORDERED}), LineState.ACTIVE),
        LineEvent.SUSPEND: (frozenset({LineState.ACTIVE}), LineState.SUSPENDED),
        LineEvent.RESUME: (frozenset({LineState.SUSPENDED}), LineState.ACTIVE),
        LineEvent.TERMINATE: (
            frozenset({LineState.ORDERED, LineState.ACTIVE, LineState.SUSPENDED}),
            LineState.TERMINATED,
        ),
    }
)

# The same graph seen from the states: where a line can go from each.
LINE_TRANSITIONS: Final[Mapping[str, frozenset[str]]] = MappingProxyType(
    {
        state: frozenset(to for sources, to in LINE_LIFECYCLE.values() if state in sources)
        for state in LineState.values
    }
)


def events_from(state: str) -> list[str]:
    """The events a line in ``state`` accepts, in declaration order."""
    return [event for event, (sources, _to) in LINE_LIFECYCLE.items() if state in sources]


class IllegalTransitionError(Exception):
    """A line was asked for a lifecycle event its current state does not allow."""

    def __init__(self, from_state: str, event: str) -> None:
        self.from_state = from_state
        self.event = event
        possible = [str(LineEvent(item).label) for item in events_from(from_state)]
        super().__init__(
            gettext("A line that is %(state)s cannot %(event)s (it can: %(possible)s).")
            % {
                "state": str(LineState(from_state).label).lower(),
                "event": LineEvent(event).label,
                "possible": ", ".join(possible) or gettext("nothing, it is final"),
            }
        )


def next_line_state(from_state: str, event: str) -> str:
    """The state ``event`` leads to from ``from_state``; ``IllegalTransitionError`` if none."""
    sources, to_state = LINE_LIFECYCLE[event]
    if from_state not in sources:
        raise IllegalTransitionError(from_state, event)
    return to_state


class Line(models.Model):
    """A mobile line: a number (MSISDN) and a SIM, owned by one person, in one market."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="lines",
        verbose_name=_("owner"),
    )
    market = models.ForeignKey(
        Market, on_delete=models.PROTECT, related_name="lines", verbose_name=_("market")
    )
    msisdn = models.CharField(_("MSISDN"), max_length=16)
    # NULL for a number ported in from another operator (not from our blocks).
    number = models.ForeignKey(
        PhoneNumber,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="lines",
        verbose_name=_("number from our blocks"),
    )
    sim = models.OneToOneField(
        SimCard, on_delete=models.PROTECT, related_name="line", verbose_name=_("SIM card")
    )
    state = models.CharField(
        _("state"), max_length=16, choices=LineState.choices, default=LineState.ORDERED
    )
    ordered_at = models.DateTimeField(_("ordered at"))
    activated_at = models.DateTimeField(_("activated at"), null=True, blank=True)
    terminated_at = models.DateTimeField(_("terminated at"), null=True, blank=True)
    state_changed_at = models.DateTimeField(_("state changed at"))
    external_ref = models.CharField(
        _("external reference"),
        max_length=64,
        blank=True,
        help_text=_("The subscriber's reference in the system the line was imported from."),
    )

    class Meta:
        verbose_name = _("line")
        verbose_name_plural = _("lines")
        ordering = ["msisdn", "ordered_at"]
        constraints = [
            # A number is in use by at most one line at a time.
            models.UniqueConstraint(
                fields=["msisdn"],
                condition=~Q(state=LineState.TERMINATED),
                name="lines_line_msisdn_in_use_unique",
            ),
            models.CheckConstraint(
                condition=Q(state__in=LineState.values), name="lines_line_state_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.msisdn

    def accepts(self, event: str) -> bool:
        """Whether the line's lifecycle allows ``event`` now."""
        return self.state in LINE_LIFECYCLE[event][0]


class LineStateChange(models.Model):
    """One step of a line's lifecycle: when, from which state to which, and why."""

    line = models.ForeignKey(
        Line, on_delete=models.CASCADE, related_name="state_changes", verbose_name=_("line")
    )
    from_state = models.CharField(_("from"), max_length=16, choices=LineState.choices, blank=True)
    to_state = models.CharField(_("to"), max_length=16, choices=LineState.choices)
    at = models.DateTimeField(_("at"))
    reason = models.CharField(_("reason"), max_length=255)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("by"),
    )
    recorded_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("line state change")
        verbose_name_plural = _("line state changes")
        ordering = ["line", "at", "id"]

    def __str__(self) -> str:
        return f"{self.line} {self.from_state or '∅'} → {self.to_state} ({self.at:%Y-%m-%d %H:%M})"

    @staticmethod
    def state_at(changes: Iterable[LineStateChange], at: datetime) -> str | None:
        """The line's state at ``at`` from its history (None before it was ordered).

        Several changes at the same instant (ordered and activated at once) apply in the
        order they were recorded.
        """
        latest: LineStateChange | None = None
        for change in changes:
            if change.at <= at and (
                latest is None or (change.at, change.pk or 0) > (latest.at, latest.pk or 0)
            ):
                latest = change
        return latest.to_state if latest is not None else None


class PortInRequest(models.Model):
    """The request to bring a line's number from another operator (the donor)."""

    line = models.OneToOneField(
        Line, on_delete=models.CASCADE, related_name="port_in", verbose_name=_("line")
    )
    msisdn = models.CharField(_("number to port"), max_length=16)
    donor_operator = models.CharField(_("donor operator"), max_length=100)
    code = models.CharField(_("PAC or RIO"), max_length=12, blank=True)
    account_number = models.CharField(_("account number at the donor"), max_length=20, blank=True)
    pin = models.CharField(_("transfer PIN"), max_length=10, blank=True)
    requested_at = models.DateTimeField(_("requested at"))
    completed_at = models.DateTimeField(_("completed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("port-in request")
        verbose_name_plural = _("port-in requests")

    def __str__(self) -> str:
        return f"{self.msisdn} ← {self.donor_operator}"


class PlanSubscription(models.Model):
    """A line's plan from ``valid_from`` until ``valid_to`` (open-ended while current).

    Refers to the plan by code: the prices are those of the catalogue version in force
    when the usage happens, so a price change needs no new subscription.
    """

    line = models.ForeignKey(
        Line, on_delete=models.CASCADE, related_name="plan_subscriptions", verbose_name=_("line")
    )
    plan_code = models.SlugField(_("plan"), max_length=40)
    valid_from = models.DateTimeField(_("valid from"))
    valid_to = models.DateTimeField(_("valid to"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded at"), default=timezone.now)

    class Meta:
        verbose_name = _("plan subscription")
        verbose_name_plural = _("plan subscriptions")
        ordering = ["line", "valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["line", "valid_from"], name="lines_subscription_unique"
            ),
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="lines_subscription_period_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line} {self.plan_code} from {self.valid_from:%Y-%m-%d}"

    def covers(self, at: datetime) -> bool:
        return self.valid_from <= at and (self.valid_to is None or at < self.valid_to)

    @staticmethod
    def in_force(
        subscriptions: Iterable[PlanSubscription], at: datetime
    ) -> PlanSubscription | None:
        """The subscription in force at ``at``: started by then and not yet ended (None else)."""
        current = latest_starting_by(subscriptions, at, lambda sub: sub.valid_from)
        return current if current is not None and current.covers(at) else None


class CauseChoice(models.Model):
    """The cause a line's owner gives to from ``valid_from``; no cause means the foundation."""

    line = models.ForeignKey(
        Line, on_delete=models.CASCADE, related_name="cause_choices", verbose_name=_("line")
    )
    cause = models.ForeignKey(
        "causes.Cause",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="line_choices",
        verbose_name=_("cause"),
        help_text=_("Empty: no choice, the share goes to the Kindwave foundation."),
    )
    valid_from = models.DateTimeField(_("valid from"))
    chosen_at = models.DateTimeField(_("chosen at"), default=timezone.now)

    class Meta:
        verbose_name = _("cause choice")
        verbose_name_plural = _("cause choices")
        ordering = ["line", "valid_from"]
        constraints = [
            models.UniqueConstraint(
                fields=["line", "valid_from"], name="lines_cause_choice_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.line} → {self.cause or '—'} from {self.valid_from:%Y-%m-%d}"

    @staticmethod
    def in_force(choices: Iterable[CauseChoice], at: datetime) -> CauseChoice | None:
        """The choice in force at ``at``: the latest made effective by then (None before any)."""
        return latest_starting_by(choices, at, lambda choice: choice.valid_from)
