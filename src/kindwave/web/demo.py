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
from kindwave.lines.validators import luhn_check_digit

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


PERSONAS = (
    Persona("alice@example.org", "Alice Martin", line=("GB", "gb-everyday", "wateraid")),
    Persona("bob@example.org", "Bob Martin", line=("GB", "gb-starter", "the-trussell-trust")),
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
    ),
)


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
    say(f"Demo logins (password {DEMO_PASSWORD!r}): " + ", ".join(p.email for p in PERSONAS))
