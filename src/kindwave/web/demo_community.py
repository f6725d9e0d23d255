"""The demo operator's community: causes and a few hundred simulated people posting,
replying, following, favouriting and sharing over the last four weeks, projects in the
UK and France with followers and volunteers, and donations charged to phone bills.

Everything goes through the community's services, so fan-out, notifications, counters and
the ledger are what they would be for real people. The plan is drawn from a seeded
generator over data that does not change between runs (the causes, the simulated
subscribers, the personas), so a second ``kindwave demo`` finds every post by its
idempotency key, every follow, favourite and reblog already there, every project by its
cause and title and every donation by its client key: it adds nothing.

**Timestamps.** The services stamp what they write with the current time. To spread the
community over the past weeks, the events are played in chronological order (so post ids
grow with time, as the timelines expect) and each row an event has just written (the
post, the follow, the favourite, their notifications, the author's ``last_status_at``…)
is back-dated in the same transaction. Rows that already existed are never touched.
Donations are not back-dated: they move money, and the ledger's transfers and the carrier
charges keep the instant they really happened (now), so they join the current month's
bills.

Post texts are content written by the (simulated) people and causes in their own
language, not interface strings: they are not translated.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce
from django.test.utils import override_settings
from django.utils import timezone

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.community.models import (
    Account,
    Favourite,
    Follow,
    Notification,
    Project,
    ProjectFollow,
    Status,
    Visibility,
    Volunteer,
)
from kindwave.community.models import Donation as DonationRow
from kindwave.community.services import donations, follows, posts, projects
from kindwave.community.services.accounts import ensure_account, ensure_cause_account
from kindwave.community.services.errors import CommunityError
from kindwave.lib.money import format_money
from kindwave.lines.models import Line, LineState, Market
from kindwave.simulator.countries import HOST_COUNTRIES

#: The seed of the community's plan: the same seed and data give the same community.
COMMUNITY_SEED = 2026
#: How many simulated people take part in the full demo.
DEFAULT_PEOPLE = 300
#: How far back the community's life goes.
DAYS = 28
#: The share of the people drawn from each market (the UK operator is the main one).
MARKET_SHARES = (("GB", 0.6), ("FR", 0.25), ("US", 0.15))
#: Events played per transaction (each service call inside is a savepoint).
EVENTS_PER_TRANSACTION = 400
#: The personas who take part: alice, bob, charlie the outsider and zoé.
PERSONA_EMAILS = ("alice@example.org", "bob@example.org", "charlie@example.org", "zoe@example.org")
#: Phone-bill donation amounts (minor units), the small ones more often.
AMOUNTS = (300, 500, 500, 1000, 1000, 1000, 1500, 2000, 2500, 3000, 5000)
#: At most this many donations to one project, and to causes directly.
MAX_PROJECT_DONATIONS = 15
MAX_CAUSE_DONATIONS = 10
KEY_PREFIX = "demo-community"

# --- What the causes and the people say --------------------------------------------------

CAUSE_POSTS: dict[str, tuple[str, ...]] = {
    "emerge-poverty-free": (
        "Women's savings groups in Sierra Leone now run 40 market stalls between them. "
        "Enterprise, not charity, is what lasts. #poverty #fairtrade",
        "Our training kitchen in Jordan welcomed its 12th class this month: cooks, bakers "
        "and two future caterers. #enterprise",
        "What does a fair market mean to a cashew farmer? A price agreed before the harvest, "
        "not after it. #fairtrade",
    ),
    "the-trussell-trust": (
        "Food banks in our network gave out more emergency parcels this autumn than last. "
        "Nobody should need one. #foodbank #endhunger",
        "Thank you to every volunteer who sorted donations this weekend: three tonnes in "
        "Leeds alone. #volunteering #foodbank",
        "Pasta, tinned tomatoes, UHT milk and tinned fish are what our centres are short of "
        "this week. #foodbank",
    ),
    "wwf-uk": (
        "Seagrass stores carbon up to 35 times faster than rainforest. We planted another "
        "hectare off the Welsh coast. #nature #climate",
        "Hedgehogs are looking for somewhere to hibernate: leave a gap under your fence. #wildlife",
        "Half of the UK's wildlife species are in decline. Restoring rivers is where we start "
        "this winter. #nature #rivers",
    ),
    "save-the-children-uk": (
        "Every child deserves a warm breakfast before school. Our UK programmes reached 8,000 "
        "families this term. #children",
        "Books in the school bag: reading at home doubles the progress children make. "
        "#reading #children",
        "Winter is hard on families in poverty. Our emergency grants cover heating and coats. "
        "#childpoverty",
    ),
    "wateraid": (
        "A tap within 15 minutes' walk changes a girl's school day entirely. #cleanwater",
        "3.5 billion people still lack a safe toilet. Decent sanitation is a right. "
        "#cleanwater #WASH",
        "Rainwater tanks finished in two villages in Malawi: 600 people no longer walk to the "
        "river. #cleanwater",
    ),
    "feeding-america": (
        "1 in 7 children in the US faces hunger. Our food banks served record numbers this "
        "fall. #endhunger",
        "The Thanksgiving drives are done; the need continues. Thank you, volunteers! #foodbank",
        "Mobile pantries now reach 30 rural counties that had no food bank nearby. #endhunger",
    ),
    "save-the-children-us": (
        "Early learning in rural America: 20,000 kids got books and tutoring this year. "
        "#children #earlylearning",
        "When disaster strikes, children need safe spaces first. Our teams are on the ground. "
        "#children",
        "Summer meals matter: no child should go hungry over the holidays. #endhunger",
    ),
    "wwf-us": (
        "Monarch butterflies are wintering in Mexico: protecting their forests protects the "
        "migration. #wildlife #nature",
        "Ocean plastic starts on land. Our river clean-ups pulled 12 tons this season. #oceans",
        "Restoring grasslands brings bison back and stores carbon in deep roots. #nature #climate",
    ),
    "restos-du-coeur": (
        "La campagne d'hiver est lancée : nos bénévoles accueillent les familles dans plus "
        "de 2 000 centres. #solidarité #restosducœur",
        "Merci aux 75 000 bénévoles qui font vivre les Restos ! Envie de nous rejoindre ? "
        "#bénévolat",
        "Ce qui manque cette semaine : conserves de légumes, lait, produits d'hygiène. #solidarité",
    ),
    "secours-populaire": (
        "Journée des oubliés des vacances : 300 enfants ont découvert la mer à Deauville cet "
        "été. #solidarité #enfance",
        "Nos permanences d'accueil restent ouvertes pendant les fêtes. Personne ne doit être "
        "seul. #solidarité",
        "Pères Noël verts : collecte de jouets neufs jusqu'au 20 décembre dans nos "
        "fédérations. #noël #solidarité",
    ),
    "fondation-abbe-pierre": (
        "4 millions de personnes sont mal logées en France. Le logement est un droit. #logement",
        "Cet hiver, nos boutiques solidaires accueillent les personnes à la rue pour un café, "
        "une douche, un conseil. #logement #solidarité",
        "Rénover une passoire thermique, c'est 600 € d'économies par an pour une famille "
        "modeste. #logement #écologie",
    ),
    "wwf-france": (
        "Les forêts françaises stockent du carbone, à condition de les laisser vieillir. "
        "#écologie #forêts",
        "Le loup est revenu dans 55 départements : cohabiter, c'est possible. #biodiversité",
        "Moins de plastique dans nos rivières : 12 tonnes ramassées cette saison par nos "
        "bénévoles. #écologie",
    ),
}

APPEAL = {
    "en": "Every penny you give reaches {name} in full: Kindwave takes no commission. "
    "Tap Donate to give on your phone bill. #givingseason",
    "fr": "Chaque euro donné arrive en entier à {name} : Kindwave ne prend aucune "
    "commission. Touchez « Donner » pour donner sur votre facture mobile. #générosité",
}

PERSON_POSTS = {
    "en": (
        "Just picked {cause} for my 10 %. Feels good to know where it goes. #kindwave",
        "Volunteered at the food bank this morning. Tired, happy. #volunteering",
        "Anyone know a good repair café nearby? My toaster deserves a second life. #repair",
        "Walked the canal path today: two herons and a kingfisher. #nature",
        "Reading {cause}'s latest update: proper numbers, no fluff. More of this please.",
        "The public ledger says my cause got its share this month. Love that I can check. "
        "#transparency",
        "Community garden seed swap on Saturday, bring seeds and cuttings! #gardening",
        "Cycled to work all week. My legs disagree with my choices. #climate",
        "Thinking about the people queueing at food banks tonight. Gave what I could. #endhunger",
        "Does anyone else read the causes' posts before the news now? A nicer way to start "
        "the day.",
        "Batch-cooked soup for the neighbours. Leek and potato, obviously.",
        "Tip: your bill shows exactly how much went to your cause. #kindwave",
        "The kids made bird feeders out of pine cones this weekend. #wildlife",
        "Litter pick on the beach at 10. We'll have gloves and bags. #beachclean",
        "First frost this morning. Check on your older neighbours this week.",
        "Learned more about {cause} today than in years of adverts. #charity",
        "No adverts in my timeline, just people and causes. Refreshing.",
        "Joined a local choir. We are terrible and it's wonderful.",
        "Our street's book swap box is full again. #reading",
        "Switched off sharing my data with brokers I'd never heard of. Took two minutes. #privacy",
    ),
    "fr": (
        "Je viens de choisir {cause} pour mes 10 %. Enfin une facture qui sert à quelque "
        "chose ! #kindwave",
        "Matinée de bénévolat à la distribution alimentaire. Fatiguée mais heureuse. #bénévolat",
        "Balade en forêt de Fontainebleau : pas un déchet, bravo à tous. #écologie",
        "Qui connaît un bon repair café près de chez moi ? Mon grille-pain mérite une seconde "
        "vie. #réparation",
        "J'ai lu le dernier bilan de {cause} : des chiffres clairs, pas de blabla.",
        "Le grand livre public montre que ma cause a reçu sa part ce mois-ci. J'adore pouvoir "
        "vérifier. #transparence",
        "Vélo tous les jours cette semaine. Mes mollets protestent. #climat",
        "Soupe maison pour les voisins ce soir : poireaux et pommes de terre, évidemment.",
        "Pas de pub dans mon fil, juste des gens et des causes. Ça change tout.",
        "Ramassage de déchets au bord de la Loire samedi à 10 h, gants fournis ! #écologie",
        "Premières gelées ce matin. Pensez à prendre des nouvelles de vos voisins âgés. "
        "#solidarité",
        "Troc de graines au jardin partagé dimanche. Venez nombreux ! #jardinage",
        "J'ai coupé le partage de mes données avec des courtiers inconnus. Deux minutes. "
        "#vieprivée",
        "Les enfants ont fabriqué des mangeoires à oiseaux. #biodiversité",
        "Collecte de jouets à l'école jusqu'à vendredi. #noël #solidarité",
    ),
}

REPLIES = {
    "en": (
        "So true.",
        "Count me in!",
        "Thanks for sharing this.",
        "This is brilliant news.",
        "Where can I sign up?",
        "Shared it with my family.",
        "Well said.",
        "Great work, everyone involved.",
        "I'll bring a friend.",
        "Didn't know that, thanks!",
    ),
    "fr": (
        "Tellement vrai.",
        "J'en suis !",
        "Merci pour le partage.",
        "Super nouvelle !",
        "Où peut-on s'inscrire ?",
        "Partagé avec ma famille.",
        "Bien dit.",
        "Bravo à toutes et à tous.",
        "Je ne savais pas, merci !",
    ),
}


@dataclass(frozen=True)
class DemoProject:
    cause: str
    run_by_member: bool  # a person of the cause's market runs it, else the cause's account
    title: str
    description: str
    place: str
    currency: str
    goal_minor: int | None
    volunteers_goal: int | None
    days_left: int
    updates: tuple[str, ...]


PROJECTS = (
    DemoProject(
        "the-trussell-trust",
        False,
        "Winter food bank drive in Leeds",
        "Three weeks of collections in supermarkets across Leeds to stock the city's food "
        "banks for the winter: volunteers to collect and sort, money for fresh food.",
        "Leeds, United Kingdom",
        "GBP",
        80_000,
        25,
        40,
        (
            "Week one of the Leeds winter drive: the first van is full. Thank you! #foodbank",
            "The Leeds drive is under way: every gift reaches the food banks in full, and every "
            "hour of sorting counts. #foodbank",
        ),
    ),
    DemoProject(
        "wwf-uk",
        False,
        "Replant the banks of the River Wandle",
        "Native willows, alders and reed beds along two kilometres of the Wandle, to bring "
        "back kingfishers and cool the water for trout.",
        "London, United Kingdom",
        "GBP",
        60_000,
        40,
        55,
        (
            "The first 300 willow whips are in the ground along the Wandle. #rivers #nature",
            "Planting day two on the Wandle: boots, gloves and tea provided. #volunteering",
        ),
    ),
    DemoProject(
        "save-the-children-uk",
        True,
        "Books for Glasgow's school libraries",
        "Our primary schools' libraries have shelves and no new books. Let's fill them: "
        "every £5 buys a new book chosen by the children.",
        "Glasgow, United Kingdom",
        "GBP",
        30_000,
        None,
        30,
        (
            "The children chose the first 40 books: dinosaurs won by a landslide. #reading",
            "The first boxes of books arrived at two Glasgow schools today. Thank you all! "
            "#reading",
        ),
    ),
    DemoProject(
        "restos-du-coeur",
        False,
        "Maraudes d'hiver à Lyon",
        "Chaque soir de l'hiver, des équipes de bénévoles vont à la rencontre des personnes "
        "à la rue à Lyon : repas chauds, couvertures, écoute.",
        "Lyon, France",
        "EUR",
        70_000,
        30,
        50,
        (
            "Première semaine de maraudes à Lyon : 420 repas chauds servis. Merci ! #solidarité",
            "Il nous manque encore des bénévoles le mardi soir à Lyon. #bénévolat",
        ),
    ),
    DemoProject(
        "wwf-france",
        True,
        "Nettoyage des calanques de Marseille",
        "Un samedi par mois, on ramasse les déchets dans les calanques, du littoral aux "
        "fonds marins avec des plongeurs bénévoles.",
        "Marseille, France",
        "EUR",
        None,
        60,
        25,
        (
            "Premier nettoyage des calanques : 85 kg de déchets sortis de l'eau. #écologie",
            "Prochain rendez-vous samedi à 9 h, port de Sormiou. #écologie #bénévolat",
        ),
    ),
)

# --- The personas' part -----------------------------------------------------------------

ALICE_FOLLOWS = ("wateraid", "the-trussell-trust")
BOB_FOLLOWS = ("the-trussell-trust",)
ZOE_FOLLOWS = ("restos-du-coeur", "wwf-france")
ALICE_POSTS = (
    (26, "public", "Just chose @wateraid for my 10 %: clean water is the one thing I'd fix "
     "first. #cleanwater"),
    (12, "public", "Anyone else volunteering at the Leeds winter food bank drive? "
     "#volunteering #foodbank"),
    (5, "private", "Family dinner on Sunday, @bob: you're bringing the pudding."),
    (2, "public", "Love that the public ledger shows every penny my cause gets. #transparency"),
)  # fmt: skip
BOB_REPLY = "Only if it's crumble. Count me in for the food bank too!"
ZOE_POSTS = (
    (20, "Matinée aux Restos du Cœur de Montreuil : quelle équipe ! #bénévolat #solidarité"),
    (7, "Premier vrai froid à Paris. Pensez aux maraudes. #solidarité"),
)


# --- The plan ----------------------------------------------------------------------------


@dataclass(eq=False)
class Person:
    """A person taking part: a simulated subscriber (or a persona) and their account."""

    user: User
    account: Account
    market: str
    language: str
    cause: str | None  # the cause their line gives to
    weight: float = 1.0  # how much others follow and react to them (the heavy tail)


@dataclass(frozen=True)
class CommunitySummary:
    accounts: int
    follows: int
    posts: int
    projects: int
    donations: int
    donated: dict[str, int]
    created: int  # rows this run added (posts, follows, favourites, donations…)
    seconds: float


@dataclass
class _Event:
    at: datetime
    seq: int
    run: Callable[[datetime], None]


@dataclass
class _Plan:
    rng: random.Random
    now: datetime
    events: list[_Event] = field(default_factory=list)

    def at(self, days_ago: float) -> datetime:
        return self.now - timedelta(days=days_ago)

    def add(self, at: datetime, run: Callable[[datetime], None]) -> None:
        # Nothing is dated after the run started: rows written later stay newer.
        at = min(at, self.now - timedelta(minutes=1))
        self.events.append(_Event(at, len(self.events), run))

    def ordered(self) -> list[_Event]:
        return sorted(self.events, key=lambda event: (event.at, event.seq))


class _Community:
    """Builds and plays the plan; counts what it adds."""

    def __init__(self, people: int, seed: int) -> None:
        self.started = timezone.now()
        self.plan = _Plan(random.Random(seed), self.started)
        self.rng = self.plan.rng
        self.wanted = people
        self.created = 0
        self.given = 0  # donations completed by this run
        self.statuses: dict[str, Status] = {}
        self.causes: dict[str, Cause] = {}
        self.cause_accounts: dict[str, Account] = {}
        self.people: list[Person] = []
        self.personas: dict[str, Person] = {}
        self.following: dict[int, set[int]] = {}  # account id → account ids it follows
        self.projects: dict[str, Project] = {}
        self.appeals: dict[str, str] = {}  # cause slug → the key of its donate-button post

    # -- back-dating (only rows this run has just written) -------------------------------

    def _fresh(self, rows: QuerySet[Any], at: datetime, column: str = "created_at") -> int:
        return rows.filter(**{f"{column}__gte": self.started}).update(**{column: at})

    def _backdate(self, row: Account | Follow | Status, at: datetime) -> bool:
        """Date ``row`` ``at`` if this run has just written it; True if it did."""
        if row.created_at < self.started:
            return False  # there already: a re-run
        type(row).objects.filter(pk=row.pk).update(created_at=at)
        self.created += 1
        return True

    def _backdate_consequences(self) -> None:
        """Date the notifications the events just wrote like the rows that caused them
        (a follow, a favourite, a reblog, a post's mentions), and the authors'
        ``last_status_at`` like their newest post: a few statements per transaction
        rather than one per event."""
        fresh = Notification.objects.filter(created_at__gte=self.started)
        kinds = Notification.Kind
        causes: dict[str, QuerySet[Any]] = {
            kinds.FOLLOW: Follow.objects.filter(
                account=OuterRef("from_account"), target=OuterRef("account")
            ),
            kinds.FAVOURITE: Favourite.objects.filter(
                account=OuterRef("from_account"), status=OuterRef("status")
            ),
            kinds.REBLOG: Status.objects.filter(
                account=OuterRef("from_account"), reblog_of=OuterRef("status")
            ).order_by("-pk"),
            kinds.MENTION: Status.objects.filter(pk=OuterRef("status")),
        }
        for kind, cause in causes.items():
            when = Subquery(cause.values("created_at")[:1])
            fresh.filter(kind=kind).update(created_at=Coalesce(when, F("created_at")))
        newest = Status.objects.filter(account=OuterRef("pk")).order_by("-created_at")
        Account.objects.filter(last_status_at__gte=self.started).update(
            last_status_at=Subquery(newest.values("created_at")[:1])
        )

    # -- participants ---------------------------------------------------------------------

    def load_causes(self) -> None:
        for cause in Cause.objects.verified().order_by("slug"):
            self.causes[cause.slug] = cause
            account = ensure_cause_account(cause)
            self._backdate(account, self.plan.at(DAYS + 14))
            self.cause_accounts[cause.slug] = account

    def load_people(self) -> None:
        simulated = (
            Line.objects.exclude(external_ref="")
            .exclude(owner__email__in=PERSONA_EMAILS)
            .values_list("owner_id", "market__code")
            .order_by("owner_id")
            .distinct()
        )
        by_market: dict[str, list[int]] = {code: [] for code, _share in MARKET_SHARES}
        for owner_id, market in simulated:
            if market in by_market and owner_id not in by_market[market][-1:]:
                by_market[market].append(owner_id)
        chosen: list[tuple[int, str]] = []
        for market, share in MARKET_SHARES:
            wanted = round(self.wanted * share)
            pool = by_market[market]
            # A small simulation (or none: ``kindwave demo --no-simulation``) gives fewer.
            picked = sorted(self.rng.sample(pool, min(wanted, len(pool))))
            chosen += [(pk, market) for pk in picked]
        users = User.objects.in_bulk([pk for pk, _market in chosen])
        self.people = [self._person(users[pk], market) for pk, market in chosen]
        for email in PERSONA_EMAILS:
            user = User.objects.filter(email=email).first()
            if user is not None:
                market = "FR" if user.language == "fr" else "GB"
                self.personas[email.split("@", 1)[0]] = self._person(user, market)
        # The heavy tail: a few people are followed, favourited and shared far more.
        for rank, person in enumerate(self.rng.sample(self.people, len(self.people))):
            person.weight = 1 / (rank + 1) ** 0.9

    def _person(self, user: User, market: str) -> Person:
        account = ensure_account(user)
        self._backdate(account, self.plan.at(DAYS + 7))
        line = Line.objects.filter(owner=user).order_by("ordered_at", "pk").first()
        choice = line.cause_choices.order_by("-valid_from").first() if line else None
        cause = choice.cause.slug if choice is not None and choice.cause is not None else None
        return Person(user, account, market, "fr" if market == "FR" else "en", cause)

    # -- the events -------------------------------------------------------------------------

    def follow(self, who: Account, target: Account, at: datetime) -> None:
        if who.pk == target.pk or target.pk in self.following.setdefault(who.pk, set()):
            return
        self.following[who.pk].add(target.pk)

        def run(at: datetime) -> None:
            try:
                made = follows.follow(who, target)
            except CommunityError:
                return  # one of them blocks the other (someone used the demo meanwhile)
            self._backdate(made, at)

        self.plan.add(at, run)

    def post(
        self,
        key: str,
        author: Account,
        text: str,
        at: datetime,
        *,
        language: str,
        visibility: str = Visibility.PUBLIC,
        reply_to: str | None = None,
        donate_cause: str | None = None,
        donate_project: str | None = None,
    ) -> None:
        def run(at: datetime) -> None:
            parent = self.statuses.get(reply_to) if reply_to else None
            if reply_to and parent is None:
                return  # its parent could not be posted
            body = text
            if parent is not None and parent.account_id != author.pk:
                body = f"@{parent.account.username} {text}"
            try:
                status = posts.post(
                    author,
                    body,
                    visibility=visibility,
                    in_reply_to=parent,
                    language=language,
                    idempotency_key=f"{KEY_PREFIX}:{key}",
                    donate_cause=self.causes[donate_cause] if donate_cause else None,
                    donate_project=self.projects.get(donate_project or ""),
                )
            except CommunityError:
                return  # e.g. a reply to a post that was deleted meanwhile
            self.statuses[key] = status
            self._backdate(status, at)

        self.plan.add(at, run)

    def react(self, who: Account, key: str, at: datetime, *, reblog: bool) -> None:
        def run(at: datetime) -> None:
            original = self.statuses.get(key)
            if original is None or original.account_id == who.pk:
                return
            try:
                if reblog:
                    self._backdate(posts.reblog(who, original), at)
                    return
                posts.favourite(who, original)
            except CommunityError:
                return  # not visible to them (a block, a followers-only post)
            if self._fresh(Favourite.objects.filter(account=who, status=original), at):
                self.created += 1

        self.plan.add(at, run)

    # -- planning ---------------------------------------------------------------------------

    def _market_causes(self, market: str) -> list[str]:
        return [slug for slug in HOST_COUNTRIES[market].causes if slug in self.causes]

    def plan_follows(self) -> None:
        rng = self.rng
        for person in self.people:
            joined = rng.uniform(DAYS - 2, DAYS + 5)
            local = self._market_causes(person.market)
            # Most follow one to three causes: their own cause first, then the popular ones
            # (a Zipf-like weight by each market's list order), now and then one abroad.
            wanted = rng.choices((1, 2, 3), weights=(55, 30, 15))[0]
            picks = [person.cause] if person.cause in self.cause_accounts else []
            for _attempt in range(10 * wanted):
                if len(picks) >= wanted:
                    break
                pool = local if rng.random() < 0.9 else sorted(self.cause_accounts)
                slug = rng.choices(pool, weights=[1 / (i + 1) for i in range(len(pool))])[0]
                if slug not in picks:
                    picks.append(slug)
            for slug in picks:
                self.follow(person.account, self.cause_accounts[slug], self.plan.at(joined))
                joined -= rng.uniform(0, 3)
            # And a few people: the more popular, the likelier; mostly their own language.
            count = min(30, int(rng.paretovariate(1.5)))
            same = [p for p in self.people if p.language == person.language]
            for _ in range(count):
                crowd = same if rng.random() < 0.85 else self.people
                target = rng.choices(crowd, weights=[p.weight for p in crowd])[0]
                self.follow(person.account, target.account, self.plan.at(rng.uniform(0, joined)))

    def plan_personas(self) -> None:
        alice, bob = self.personas.get("alice"), self.personas.get("bob")
        zoe = self.personas.get("zoe")
        # charlie the outsider has an account and follows no one.
        if alice is not None:
            # Some of the community follow her (her notifications, and her posts' audience).
            for fan in self.rng.sample(self.people, min(5, len(self.people))):
                self.follow(fan.account, alice.account, self.plan.at(self.rng.uniform(3, 25)))
            for slug in ALICE_FOLLOWS:
                if slug in self.cause_accounts:
                    self.follow(alice.account, self.cause_accounts[slug], self.plan.at(27))
            for days_ago, visibility, text in ALICE_POSTS:
                key = f"alice-{days_ago}"
                at = self.plan.at(days_ago)
                self.post(key, alice.account, text, at, language="en", visibility=visibility)
                if visibility == Visibility.PUBLIC:
                    self._reactions(key, alice.account, "en", at, fans=6)
        if alice is not None and bob is not None:
            self.follow(alice.account, bob.account, self.plan.at(27))
            self.follow(bob.account, alice.account, self.plan.at(26.5))
            self.post(
                "bob-reply-12",
                bob.account,
                BOB_REPLY,
                self.plan.at(11.9),
                language="en",
                reply_to="alice-12",
            )
        if bob is not None:
            for slug in BOB_FOLLOWS:
                if slug in self.cause_accounts:
                    self.follow(bob.account, self.cause_accounts[slug], self.plan.at(25))
        if zoe is not None:
            for slug in ZOE_FOLLOWS:
                if slug in self.cause_accounts:
                    self.follow(zoe.account, self.cause_accounts[slug], self.plan.at(24))
            for days_ago, text in ZOE_POSTS:
                key = f"zoe-{days_ago}"
                self.post(key, zoe.account, text, self.plan.at(days_ago), language="fr")
                self._reactions(key, zoe.account, "fr", self.plan.at(days_ago), fans=4)

    def _audience(self, author_pk: int, language: str) -> list[Person]:
        """Who reacts to a post: the author's followers first, else people of its language."""
        followers = [p for p in self.people if author_pk in self.following.get(p.account.pk, ())]
        return followers or [p for p in self.people if p.language == language]

    def _reactions(self, key: str, author: Account, language: str, at: datetime, fans: int) -> None:
        """Favourites, a few reblogs and replies for the post ``key`` posted at ``at``."""
        rng = self.rng
        audience = [p for p in self._audience(author.pk, language) if p.account.pk != author.pk]
        if not audience:
            return
        favourites = min(len(audience), fans)
        for fan in rng.sample(audience, favourites):
            self.react(fan.account, key, at + timedelta(hours=rng.uniform(0.2, 48)), reblog=False)
        if rng.random() < 0.15:
            for fan in rng.sample(audience, min(len(audience), rng.randint(1, 3))):
                self.react(
                    fan.account, key, at + timedelta(hours=rng.uniform(0.5, 30)), reblog=True
                )
        replies = rng.choices((0, 1, 2, 3), weights=(60, 25, 10, 5))[0]
        for number, replier in enumerate(rng.sample(audience, min(len(audience), replies))):
            self.post(
                f"{key}/r{number}",
                replier.account,
                rng.choice(REPLIES[replier.language]),
                at + timedelta(hours=rng.uniform(0.1, 36)),
                language=replier.language,
                reply_to=key,
            )

    def plan_posts(self) -> None:
        rng = self.rng
        for person in self.people:
            count = min(12, int(rng.paretovariate(1.6)) - 1)
            followed_causes = [
                slug
                for slug, account in self.cause_accounts.items()
                if account.pk in self.following.get(person.account.pk, ())
            ]
            for number in range(count):
                template = rng.choice(PERSON_POSTS[person.language])
                if "{cause}" in template and not followed_causes:
                    continue
                slug = rng.choice(followed_causes) if followed_causes else None
                text = template.format(
                    cause=f"@{self.cause_accounts[slug].username}" if slug else ""
                )
                at = self.plan.at(rng.uniform(0.1, DAYS - 2))
                key = f"u{person.user.pk}-{number}"
                visibility = rng.choices(
                    (Visibility.PUBLIC, Visibility.UNLISTED, Visibility.PRIVATE),
                    weights=(85, 7, 8),
                )[0]
                # A post naming a cause carries its donate button, now and then.
                donate = slug if slug and "{cause}" in template and rng.random() < 0.4 else None
                self.post(
                    key,
                    person.account,
                    text,
                    at,
                    language=person.language,
                    visibility=visibility,
                    donate_cause=donate,
                )
                if visibility == Visibility.PUBLIC:
                    # A few favourites for most posts, many for the popular people's.
                    fans = int(rng.paretovariate(1.5)) - 1 + int(person.weight * 20)
                    self._reactions(key, person.account, person.language, at, min(30, fans))

    def plan_cause_posts(self) -> None:
        rng = self.rng
        for slug, account in self.cause_accounts.items():
            cause = self.causes[slug]
            language = "fr" if cause.country == "FR" else "en"
            followers = sum(account.pk in f for f in self.following.values())
            texts = [*CAUSE_POSTS.get(slug, ()), APPEAL[language].format(name=cause.name)]
            for number, text in enumerate(texts):
                key = f"c-{slug}-{number}"
                at = self.plan.at(rng.uniform(0.5, DAYS - 1))
                appeal = number == len(texts) - 1
                if appeal:
                    self.appeals[slug] = key
                self.post(
                    key, account, text, at, language=language, donate_cause=slug if appeal else None
                )
                fans = max(1, followers // rng.randint(4, 10))
                self._reactions(key, account, language, at, fans)

    def plan_projects(self) -> None:
        rng = self.rng
        for project in PROJECTS:
            if project.cause not in self.causes:
                continue
            market = self.causes[project.cause].country
            locals_ = [p for p in self.people if p.market == market]
            owner_person = locals_[0] if project.run_by_member and locals_ else None
            owner = owner_person.account if owner_person else self.cause_accounts[project.cause]
            created = rng.uniform(18, 22)
            self.plan.add(self.plan.at(created), self._create_project_run(project, owner))
            language = "fr" if market == "FR" else "en"
            cause_fans = [
                p
                for p in locals_
                if self.cause_accounts[project.cause].pk in self.following.get(p.account.pk, ())
            ]
            fans = cause_fans + rng.sample(locals_, min(len(locals_), 10))
            for fan in dict.fromkeys(fans):
                at = self.plan.at(rng.uniform(1, created - 0.5))
                volunteer = bool(project.volunteers_goal) and rng.random() < 0.5
                self.plan.add(at, self._join_run(project.title, fan.account, volunteer))
            for number, text in enumerate(project.updates):
                key = f"project-{project.cause}-{number}"
                at = self.plan.at(created - 2 - number * rng.uniform(5, 8))
                self.post(key, owner, text, at, language=language, donate_project=project.title)
                self._reactions(key, owner, language, at, fans=rng.randint(3, 12))

    def _create_project_run(self, spec: DemoProject, owner: Account) -> Callable[[datetime], None]:
        def run(at: datetime) -> None:
            cause = self.causes[spec.cause]
            found = Project.objects.filter(cause=cause, title=spec.title).first()
            if found is None:
                try:
                    found = projects.create_project(
                        owner,
                        cause=cause,
                        title=spec.title,
                        description=spec.description,
                        currency=spec.currency,
                        goal_minor=spec.goal_minor,
                        volunteers_goal=spec.volunteers_goal,
                        deadline=self._deadline(spec.days_left),
                        place=spec.place,
                    )
                except projects.ProjectError:
                    return  # e.g. the cause's verification was withdrawn
                Project.objects.filter(pk=found.pk).update(created_at=at)
                self.created += 1
            self.projects[spec.title] = found

        return run

    def _deadline(self, days_left: int) -> date:
        return (self.started + timedelta(days=days_left)).date()

    def _join_run(self, title: str, who: Account, volunteer: bool) -> Callable[[datetime], None]:
        def run(at: datetime) -> None:
            project = self.projects.get(title)
            if project is None:
                return
            if projects.follow_project(who, project):
                self._fresh(ProjectFollow.objects.filter(project=project, account=who), at)
                self.created += 1
            try:
                joined = volunteer and projects.join_as_volunteer(who, project)
            except projects.ProjectError:
                return  # the project has ended
            if joined:
                self._fresh(Volunteer.objects.filter(project=project, account=who), at)
                self.created += 1

        return run

    # -- playing it ---------------------------------------------------------------------------

    def play(self) -> None:
        events = self.plan.ordered()
        for start in range(0, len(events), EVENTS_PER_TRANSACTION):
            with transaction.atomic():
                for event in events[start : start + EVENTS_PER_TRANSACTION]:
                    event.run(event.at)
                self._backdate_consequences()

    # -- donations (now, by phone bill) -----------------------------------------------------

    def donate(self) -> None:
        active = set(
            Line.objects.filter(state=LineState.ACTIVE).values_list("owner_id", "market__currency")
        )
        currency_of = dict(Market.CURRENCIES)
        for spec in PROJECTS:
            project = self.projects.get(spec.title)
            if project is None or not spec.goal_minor:
                continue
            market = self.causes[spec.cause].country
            currency = spec.currency
            # Partly filled: the gifts stop at a fifth to three fifths of the goal. The
            # draw does not depend on who has an active line now, so a re-run draws the
            # same donors and amounts.
            target = spec.goal_minor * self.rng.uniform(0.2, 0.6)
            donors = [p for p in self.people if p.market == market]
            planned = 0
            for donor in self.rng.sample(donors, min(len(donors), MAX_PROJECT_DONATIONS)):
                if planned >= target:
                    break
                amount = self.rng.choice(AMOUNTS)
                planned += amount
                if (donor.user.pk, currency) in active:
                    self._give(donor.user, spec.cause, amount, currency, project=project)
        # Gifts straight to causes through their appeal's donate button.
        for number, donor in enumerate(self.rng.sample(self.people, len(self.people))):
            if number >= MAX_CAUSE_DONATIONS:
                break
            slug = donor.cause or self.rng.choice(self._market_causes(donor.market))
            currency = currency_of.get(donor.market, "GBP")
            if slug not in self.causes or (donor.user.pk, currency) not in active:
                continue
            via = self.statuses.get(self.appeals.get(slug, ""))
            self._give(donor.user, slug, self.rng.choice(AMOUNTS), currency, via_status=via)

    def _give(
        self,
        user: User,
        slug: str,
        amount: int,
        currency: str,
        *,
        project: Project | None = None,
        via_status: Status | None = None,
    ) -> None:
        key = f"{KEY_PREFIX}:{project.slug if project else slug}"
        existing = DonationRow.objects.filter(
            donor=user, carrier_charge__client_key=f"donation:{key}"
        ).first()
        if existing is not None and existing.state != DonationRow.State.PENDING:
            return  # given on an earlier run (or refused then: not tried twice)
        try:
            donation = existing or donations.donate_by_phone_bill(
                user,
                cause=self.causes[slug],
                project=project,
                amount_minor=amount,
                currency=currency,
                client_key=key,
                via_status=via_status,
            )
            donations.confirm_phone_bill_donation(user, donation.reference)
        except donations.DonationError:
            return  # carrier billing said no (limit reached, line suspended): skip them
        self.created += 1
        self.given += 1


def build_community(
    say: Callable[[str], None], *, people: int = DEFAULT_PEOPLE, seed: int = COMMUNITY_SEED
) -> CommunitySummary:
    """Give the demo operator a living community (see the module's docstring): cause
    accounts, ``people`` simulated people (a seeded sample of the simulated subscribers,
    who all have a user: the import makes them), follows with a heavy tail,
    posts, replies, favourites and reblogs over the last ``DAYS`` days, the personas'
    part, the projects of ``PROJECTS`` with followers and volunteers, and phone-bill
    donations. Idempotent: a second run adds nothing. Call it once the demo's causes, its
    simulated subscribers (without them the community has causes and personas only) and
    its personas exist."""
    started = time.monotonic()
    community = _Community(people, seed)
    community.load_causes()
    community.load_people()
    community.plan_follows()
    community.plan_personas()
    community.plan_cause_posts()
    community.plan_posts()
    community.plan_projects()
    community.play()
    with _receipts_out_of_the_console() as receipts:
        community.donate()
    summary = _summary(community.created, time.monotonic() - started)
    donated = " + ".join(
        format_money(total, currency) for currency, total in sorted(summary.donated.items())
    )
    say(
        f"Community: {summary.accounts:,} accounts, {summary.follows:,} follows, "
        f"{summary.posts:,} posts, {summary.projects} projects, {summary.donations:,} "
        f"donations ({donated or 'nothing'} given), {summary.created:,} added by this run, "
        f"in {summary.seconds:.1f} s"
        + (f"; donation receipts e-mailed to {receipts}" if receipts and community.given else "")
    )
    return summary


CONSOLE_MAIL = "django.core.mail.backends.console.EmailBackend"
FILE_MAIL = "django.core.mail.backends.filebased.EmailBackend"


@contextmanager
def _receipts_out_of_the_console() -> Iterator[Path | None]:
    """Every completed donation e-mails its receipt (after its commit). With the console
    backend, the demo's default, the simulated donors' dozens of receipts would bury the
    demo's output, so while they give, mail goes to files in ``EMAIL_FILE_PATH`` instead
    (yields that folder). Any other backend is left as configured (yields None)."""
    if settings.EMAIL_BACKEND != CONSOLE_MAIL:
        yield None
        return
    with override_settings(EMAIL_BACKEND=FILE_MAIL):
        yield Path(settings.EMAIL_FILE_PATH)


def _summary(created: int, seconds: float) -> CommunitySummary:
    completed = DonationRow.objects.filter(state=DonationRow.State.COMPLETED)
    donated = {
        row["currency"]: int(row["total"])
        for row in completed.values("currency").annotate(total=Sum("amount_minor"))
    }
    return CommunitySummary(
        accounts=Account.objects.count(),
        follows=Follow.objects.count(),
        posts=Status.objects.filter(deleted_at__isnull=True).count(),
        projects=Project.objects.count(),
        donations=completed.count(),
        donated=donated,
        created=created,
        seconds=seconds,
    )
