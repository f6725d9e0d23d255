"""The demo operator: what ``make demo`` loads so that a newcomer sees a living system.

Every step is idempotent: running ``kindwave demo`` again changes nothing that is there.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone

from kindwave.accounts import services as accounts
from kindwave.accounts.models import Membership, User
from kindwave.causes import services as causes
from kindwave.causes.models import Cause
from kindwave.lines import selectors as lines_selectors
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from kindwave.lines.validators import luhn_check_digit
from kindwave.usage import services as usage
from kindwave.usage.models import Cell
from kindwave.web import demo_billing, demo_community, demo_usage

DEMO_PASSWORD = "kindwave-demo"  # noqa: S105  (published in the README: demo only)


@dataclass(frozen=True)
class DemoSimulation:
    country: str
    subscribers: int
    days: int
    seed: int


# The UK operator is the main one; small French and US ones show the other markets.
SIMULATIONS = (
    DemoSimulation("GB", subscribers=1_000, days=30, seed=7),
    DemoSimulation("FR", subscribers=150, days=7, seed=33),
    DemoSimulation("US", subscribers=150, days=7, seed=1),
)


@dataclass(frozen=True)
class Persona:
    email: str
    full_name: str
    language: str = "en"
    time_zone: str = "Europe/London"
    line: tuple[str, str, str] | None = None  # market, plan code, cause slug
    role: str = ""
    # Trips abroad in the demo month: (first day, last day, visited network MCC-MNC).
    trips: tuple[tuple[int, int, str], ...] = ()


PERSONAS = (
    Persona(
        "alice@example.org",
        "Alice Martin",
        line=("GB", "gb-everyday", "wateraid"),
        trips=((10, 13, "208-01"),),  # a long weekend in France: roam like at home
    ),
    Persona(
        "bob@example.org",
        "Bob Martin",
        line=("GB", "gb-starter", "the-trussell-trust"),
        trips=((20, 21, "310-410"),),  # two days in the US: rest-of-world prices
    ),
    Persona("charlie@example.org", "Charlie Outsider"),
    Persona(
        "admin@wateraid.example.org",
        "Wanda Waters",
        role=Membership.Role.CAUSE_ADMIN,
    ),
    Persona("staff@example.org", "Sam Staff", role=Membership.Role.STAFF),
    Persona(
        "zoe@example.org",
        "Zoé Lefèvre",
        language="fr",
        time_zone="Europe/Paris",
        line=("FR", "fr-confort", "restos-du-coeur"),
        trips=((3, 5, "214-01"),),  # Spain
    ),
)

# The personas' own usage feed covers the last PERSONA_USAGE_DAYS days before it is written.
PERSONA_USAGE_DAYS = 30
PERSONA_USAGE_SEED = 11
# Numbers the personas call besides each other and the simulated subscribers: a landline,
# a freephone number and a number abroad (Ofcom's and ARCEP's ranges for drama and tests).
EXTRA_CONTACTS = {
    "GB": ("+442079460018", "+448001111000", "+33145678901"),
    "FR": ("+33145678901", "+33800123456", "+442079460018"),
    "US": ("+13125550199", "+18005550100", "+442079460018"),
}


@dataclass(frozen=True)
class DemoStock:
    """Numbers and SIMs kept apart from the simulated operators', for the demo logins and
    for people who sign up on the demo."""

    market: str
    first_number: str
    last_number: str
    first_iccid_body: str  # 18 digits; the Luhn check digit is added
    first_imsi: str


STOCK = (
    DemoStock("GB", "+447400900000", "+447400900999", "894430209900000000", "234309000000000"),
    DemoStock("FR", "+33612900000", "+33612900999", "893301209900000000", "208019000000000"),
    DemoStock("US", "+13125550100", "+13125551099", "891120209900000000", "310120900000000"),
)


def ensure_stock(stock: DemoStock) -> None:
    """Idempotent: a block or SIM batch already in stock is left as it is."""
    lines.add_number_block(stock.market, stock.first_number, stock.last_number)
    iccid = stock.first_iccid_body + luhn_check_digit(stock.first_iccid_body)
    lines.add_sims(stock.market, iccid, stock.first_imsi, 1_000)


def simulation_dir(country: str) -> Path:
    return settings.DATA_DIR / "simulation" / country


def simulate_and_import(sim: DemoSimulation, say: Callable[[str], None]) -> None:
    """Simulate the market's host network (once) and import its subscribers (idempotent)."""
    out_dir = simulation_dir(sim.country)
    if not (out_dir / "simulation.json").exists():
        # End yesterday, so the usage looks recent; kept as it is on later runs.
        start = (timezone.now() - timedelta(days=sim.days)).date()
        call_command(
            "simulate",
            str(out_dir),
            country=sim.country,
            subscribers=sim.subscribers,
            days=sim.days,
            seed=sim.seed,
            start=start.isoformat(),
            force=out_dir.exists(),
        )
    else:
        recorded = json.loads((out_dir / "simulation.json").read_text("utf-8"))
        records = recorded["counts"]["records"]
        say(f"Simulation {sim.country} already in {out_dir} ({records:,} records)")
    summary = lines.import_simulated_operator(out_dir)
    say(
        f"Imported {sim.country}: {summary.lines_created} new lines, "
        f"{summary.lines_already_present} already present"
    )


@transaction.atomic
def ensure_persona(persona: Persona) -> User:
    user = User.objects.filter(email__iexact=persona.email).first()
    if user is None:
        user = accounts.create_subscriber(
            email=persona.email,
            full_name=persona.full_name,
            language=persona.language,
            time_zone=persona.time_zone,
            password=DEMO_PASSWORD,
            verified=True,
        )
    if persona.role == Membership.Role.STAFF and not user.is_staff:
        accounts.make_staff(user, superuser=True)
    if persona.role == Membership.Role.CAUSE_ADMIN:
        accounts.add_membership(
            user, Cause.objects.get(slug="wateraid").organisation, Membership.Role.CAUSE_ADMIN
        )
    if persona.line and not lines_selectors.lines_of(user).exists():
        market, plan_code, cause_slug = persona.line
        since = timezone.now() - timedelta(days=45)
        line = lines.order_line(
            user, market, plan_code, cause=Cause.objects.get(slug=cause_slug), at=since
        )
        lines.activate_line(line, at=since + timedelta(days=2))
    return user


def persona_feed_dir(country: str) -> Path:
    return settings.DATA_DIR / "simulation" / "personas" / country


def write_persona_feed(market: Market, say: Callable[[str], None]) -> Path | None:
    """Write (once) the usage files of the market's demo personas' lines; None when the
    market has no persona line or no cells to place them in."""
    out_dir = persona_feed_dir(market.code)
    marker = out_dir / "feed.json"
    if marker.exists():
        return out_dir
    emails = [p.email for p in PERSONAS if p.line and p.line[0] == market.code]
    persona_lines = list(
        Line.objects.filter(market=market, owner__email__in=emails, sim__isnull=False)
        .select_related("owner", "sim")
        .order_by("id")
    )
    cells = sorted(
        Cell.objects.filter(cell_id__startswith=market.host_plmn + "-").values_list(
            "cell_id", flat=True
        )[:500]
    )
    if not persona_lines or not cells:
        return None
    others = list(
        Line.objects.filter(market=market)
        .exclude(id__in=[line.id for line in persona_lines])
        .order_by("id")
        .values_list("msisdn", flat=True)[:40]
    )
    now = timezone.now()
    first_day = (now - timedelta(days=PERSONA_USAGE_DAYS)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    until = now.replace(minute=0, second=0, microsecond=0)
    records: list[dict[str, str]] = []
    by_email = {p.email: p for p in PERSONAS}
    for number, line in enumerate(persona_lines):
        assert line.sim is not None  # noqa: S101 — filtered above
        persona = by_email[line.owner.email]
        contacts = [m for m in [*others, *(o.msisdn for o in persona_lines)] if m != line.msisdn]
        records += demo_usage.persona_records(
            demo_usage.PersonaLine(
                key=persona.email.split("@", 1)[0],
                msisdn=line.msisdn,
                imsi=line.sim.imsi,
                home_plmn=market.host_plmn,
                home_cells=cells[number * 3 : number * 3 + 3] or cells[:3],
                contacts=[*contacts, *EXTRA_CONTACTS.get(market.code, ())],
                trips=persona.trips,
            ),
            first_day,
            PERSONA_USAGE_DAYS,
            until,
            PERSONA_USAGE_SEED,
        )
    files = demo_usage.write_hour_files(records, out_dir)
    marker.write_text(
        json.dumps({"records": len(records), "files": files, "written_at": now.isoformat()}),
        "utf-8",
    )
    say(f"Usage of the {market.code} demo logins' lines: {len(records):,} records")
    return out_dir


def ingest_and_rate(say: Callable[[str], None]) -> None:
    """Ingest each simulated market's usage (and the personas' feed) and rate every
    cycle it touches; both steps are safe to repeat."""
    cycles: set[str] = set()
    for sim in SIMULATIONS:
        sim_dir = simulation_dir(sim.country)
        if not (sim_dir / "cells.csv").exists():
            continue
        market = Market.objects.get(code=sim.country)
        usage.load_cells(sim_dir / "cells.csv")
        feeds = [sim_dir / "usage"]
        persona_dir = write_persona_feed(market, say)
        if persona_dir is not None:
            feeds.append(persona_dir)
        summary = usage.ingest_usage_files(feeds, market=market)
        say(
            f"Usage {sim.country}: {len(summary.ingested):,} files ingested "
            f"({summary.accepted:,} records), {len(summary.skipped):,} already in the lake"
        )
        started = timezone.now() - timedelta(days=max(sim.days, PERSONA_USAGE_DAYS) + 1)
        month = started.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        while month <= timezone.now():
            cycles.add(f"{month:%Y-%m}")
            month = (month + timedelta(days=32)).replace(day=1)
    for cycle in sorted(cycles):
        if usage.closed_reason(cycle):
            continue  # billed already: its rating is what the invoices were made from
        rated = usage.rate_cycle(cycle)
        say(f"Rated {cycle}: {rated.records:,} records")


def load_demo(say: Callable[[str], None], with_simulation: bool = True) -> None:
    """Migrate, load catalogues, causes, simulated operators and the demo personas."""
    call_command("migrate", interactive=False, verbosity=0)
    say("Database migrated")
    for result in lines.load_demo_catalogs():
        say(f"Catalogue {result.market} {result.version}: {result.status.replace('_', ' ')}")
    loaded = causes.load_demo_causes()
    say(f"Causes: {loaded.created} added, {loaded.unchanged} already there")
    for stock in STOCK:
        ensure_stock(stock)
    if with_simulation:
        for sim in SIMULATIONS:
            simulate_and_import(sim, say)
    for persona in PERSONAS:
        ensure_persona(persona)
    # The community needs the causes, the simulated subscribers and the personas (who
    # take part in it), and runs before the money steps so that the ledger verification
    # they end with covers its phone-bill donations too.
    demo_community.build_community(say)
    if with_simulation:
        ingest_and_rate(say)
        demo_billing.run_demo_money(say)
    say(f"Demo logins (password {DEMO_PASSWORD!r}): " + ", ".join(p.email for p in PERSONAS))
