"""The three host networks the simulator can play, and everything country-specific.

The host PLMNs, time zones, languages, numbering, plan codes and cause slugs are
a contract with the importer and the rest of the platform (see the issue and
``docs/simulator.md``); change them only together with their consumers.

Number ranges are written as *templates*: a fixed E.164 prefix (digits, no
``+``) followed by a number of free digits. Every template below has been
checked against ``phonenumbers`` (the tests re-check them), so any number drawn
from one is valid for its country.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RoamingZone(StrEnum):
    EU_EEA = "eu_eea"
    WORLD = "world"


@dataclass(frozen=True)
class NumberTemplate:
    """All numbers ``+{prefix}{free digits}``: ``10**free_digits`` numbers."""

    prefix: str
    free_digits: int

    @property
    def first(self) -> int:
        return int(self.prefix) * 10**self.free_digits

    @property
    def size(self) -> int:
        return 10**self.free_digits


@dataclass(frozen=True)
class VisitedNetwork:
    """A foreign network the host network's subscribers roam on."""

    plmn: str
    country: str
    operator: str
    zone: RoamingZone


@dataclass(frozen=True)
class Plan:
    code: str
    weight: float  # share of subscribers on this plan
    data_use: float  # multiplies data sessions and volumes
    voice_use: float  # multiplies calls
    sms_use: float  # multiplies SMS


@dataclass(frozen=True)
class HostCountry:
    """One market: the host network the operator rides on and the local conventions."""

    code: str
    plmn: str
    operator: str
    language: str
    calling_code: str
    # E.164 ranges (inclusive, as integers) that MSISDN blocks are cut from, in order.
    msisdn_ranges: tuple[tuple[int, int], ...]
    iccid_prefix: str  # "89" + calling code + issuer digits: 6 digits
    msin_digits: int  # 15 - len(MCC + MNC)
    msin_base: int
    plans: tuple[Plan, ...]
    causes: tuple[str, ...]
    given_names: tuple[str, ...]
    family_names: tuple[str, ...]
    mobile: tuple[NumberTemplate, ...]
    landline: tuple[NumberTemplate, ...]
    premium: tuple[NumberTemplate, ...]
    freephone: tuple[NumberTemplate, ...]
    voice_short_codes: tuple[str, ...]  # customer care, voicemail …
    sms_short_codes: tuple[str, ...]  # text-to-donate, votes, services
    sender_short_codes: tuple[str, ...]  # senders of notifications and one-time codes
    visited_networks: tuple[VisitedNetwork, ...]

    @property
    def mcc_mnc(self) -> str:
        return self.plmn.replace("-", "")


def _t(*specs: tuple[str, int]) -> tuple[NumberTemplate, ...]:
    return tuple(NumberTemplate(prefix, free) for prefix, free in specs)


# Numbers abroad that subscribers call and are called from (family, friends, business).
INTERNATIONAL = _t(
    ("49151", 8),  # Germany, mobile
    ("49176", 8),
    ("346", 8),  # Spain, mobile
    ("3934", 8),  # Italy, mobile
    ("35191", 7),  # Portugal, mobile
    ("35387", 7),  # Ireland, mobile
    ("3161", 7),  # Netherlands, mobile
    ("32470", 6),  # Belgium, mobile
    ("4860", 7),  # Poland, mobile
    ("40722", 6),  # Romania, mobile
    ("4179", 7),  # Switzerland, mobile
    ("21266", 7),  # Morocco, mobile
    ("2519", 8),  # Ethiopia, mobile
    ("23480", 8),  # Nigeria, mobile
    ("9198", 8),  # India, mobile
    ("90532", 7),  # Turkey, mobile
    ("97150", 7),  # United Arab Emirates, mobile
    ("6681", 7),  # Thailand, mobile
    ("81901", 7),  # Japan, mobile
    ("6141", 7),  # Australia, mobile
    ("5255", 8),  # Mexico, Mexico City
    ("14162", 6),  # Canada, Toronto
)

_PLANS_WEIGHTS = (0.18, 0.30, 0.37, 0.15)
_DATA_USE = (0.45, 0.75, 1.0, 2.1)
_VOICE_USE = (0.6, 0.85, 1.0, 1.4)
_SMS_USE = (0.8, 0.95, 1.0, 1.15)


def _plans(*codes: str) -> tuple[Plan, ...]:
    """Four tiers per market, from pay-as-you-go to unlimited, with the same habits."""
    return tuple(
        Plan(code, weight, data, voice, sms)
        for code, weight, data, voice, sms in zip(
            codes, _PLANS_WEIGHTS, _DATA_USE, _VOICE_USE, _SMS_USE, strict=True
        )
    )


def _nanp_ranges(npas: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
    """Runs of whole central-office codes (NXX) that are ordinary subscriber numbers.

    N11 service codes, 555 (directory and fiction), 950/958/959 (carrier access)
    and 976 (premium) are skipped, so every block is a plausible mobile range.
    """
    reserved = {f"{n}11" for n in range(2, 10)} | {"555", "950", "958", "959", "976"}
    ranges: list[tuple[int, int]] = []
    for npa in npas:
        run_start: int | None = None
        for nxx in range(200, 1001):
            usable = nxx < 1000 and str(nxx) not in reserved
            if usable and run_start is None:
                run_start = nxx
            elif not usable and run_start is not None:
                ranges.append((int(f"1{npa}{run_start}0000"), int(f"1{npa}{nxx - 1}9999")))
                run_start = None
    return tuple(ranges)


# Small, culturally plausible name lists (UTF-8; emails fold them to ASCII).
_GB_GIVEN_NAMES = (
    "Oliver", "Amelia", "George", "Isla", "Harry", "Ava", "Jack", "Mia", "Noah", "Olivia",
    "Charlie", "Emily", "Jacob", "Sophie", "Thomas", "Grace", "Oscar", "Freya", "William",
    "Lily", "James", "Ella", "Muhammad", "Aisha", "Arjun", "Priya", "Callum", "Eilidh", "Rhys",
    "Cerys", "Connor", "Niamh", "Daniel", "Chloe", "Samuel", "Hannah", "David", "Sarah",
    "Michael", "Margaret", "Kwame", "Chidi", "Zara", "Ewan", "Siobhan", "Dylan"
)  # fmt: skip

_GB_FAMILY_NAMES = (
    "Smith", "Jones", "Williams", "Taylor", "Brown", "Davies", "Evans", "Wilson", "Thomas",
    "Johnson", "Roberts", "Robinson", "Thompson", "Wright", "Walker", "White", "Edwards",
    "Hughes", "Green", "Hall", "Wood", "Harris", "Lewis", "Martin", "Jackson", "Clarke",
    "Turner", "Hill", "Scott", "Cooper", "Morris", "Ward", "Moore", "King", "Watson", "Baker",
    "Patel", "Khan", "Ahmed", "Campbell", "MacDonald", "O'Brien", "Murphy", "Kaur", "Singh",
    "Okafor", "Nowak", "Llewellyn"
)  # fmt: skip

_FR_GIVEN_NAMES = (
    "Hélène", "Loïc", "Léa", "François", "Chloé", "Théo", "Zoé", "Noé", "Inès", "Jérôme",
    "Élodie", "Gaëlle", "Maël", "Anaïs", "Benoît", "Céline", "Clément", "Estelle", "Frédéric",
    "Aurélie", "Raphaël", "Mathis", "Camille", "Louise", "Hugo", "Lucas", "Manon", "Nathan",
    "Sarah", "Thomas", "Julien", "Marie", "Pierre", "Sophie", "Yasmine", "Karim", "Mélanie",
    "Amélie", "Gérard", "Noémie", "Stéphane", "Cécile", "Agnès", "Aïcha", "Mamadou", "Joël"
)  # fmt: skip

_FR_FAMILY_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "André", "Mercier", "Dupont", "Lambert", "Bonnet",
    "François", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc", "Guérin",
    "Boyer", "Chevalier", "Gauthier", "Perrin", "Lemaître", "Hervé", "Ménard", "Nguyen",
    "Benali", "Diallo", "Le Gall", "Le Goff", "Bérard"
)  # fmt: skip

_US_GIVEN_NAMES = (
    "James", "Mary", "Robert", "Patricia", "John", "Jennifer", "Michael", "Linda", "David",
    "Elizabeth", "William", "Barbara", "Maria", "José", "Luis", "Sofía", "Wei", "Mei", "Priya",
    "Aaliyah", "DeShawn", "Jamal", "Keisha", "Emma", "Liam", "Olivia", "Noah", "Ava", "Ethan",
    "Isabella", "Mason", "Mia", "Logan", "Harper", "Lucas", "Minh", "Ji-woo", "Fatima", "Omar",
    "Chloe", "Dakota", "Guadalupe", "Tyrone", "Hannah", "Ramón", "Kai"
)  # fmt: skip

_US_FAMILY_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Gonzalez", "Wilson", "Anderson", "Thomas", "Taylor",
    "Moore", "Jackson", "Martin", "Lee", "Perez", "Thompson", "White", "Harris", "Sanchez",
    "Clark", "Ramirez", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Nguyen", "Kim", "Patel", "Chen", "Washington", "Begay", "O'Connor", "Kowalski",
    "Cohen", "Peña"
)  # fmt: skip


GB = HostCountry(
    code="GB",
    plmn="234-30",
    operator="EE",
    language="en",
    calling_code="44",
    msisdn_ranges=((447400100000, 447499999999), (447500000000, 447599999999)),
    iccid_prefix="894430",
    msin_digits=10,
    msin_base=7_000_000_000,
    plans=_plans("gb-payg", "gb-starter", "gb-everyday", "gb-unlimited"),
    causes=(
        "emerge-poverty-free",
        "the-trussell-trust",
        "wwf-uk",
        "save-the-children-uk",
        "wateraid",
    ),
    given_names=_GB_GIVEN_NAMES,
    family_names=_GB_FAMILY_NAMES,
    mobile=_t(("4474", 8), ("4475", 8), ("4478", 8), ("44771", 7), ("44795", 7), ("4473", 8)),
    landline=_t(
        ("44207", 7),  # London
        ("44208", 7),
        ("44161", 7),  # Manchester
        ("44141", 7),  # Glasgow
        ("44151", 7),  # Liverpool
        ("441214", 6),  # Birmingham
        ("441132", 6),  # Leeds
        ("441179", 6),  # Bristol
        ("441312", 6),  # Edinburgh
        ("441865", 6),  # Oxford
        ("441223", 6),  # Cambridge
    ),
    premium=_t(("44909", 7), ("44908", 7), ("44906", 7)),
    freephone=_t(("44800", 7), ("44808", 7)),
    voice_short_codes=("150", "1571", "2020", "118118"),
    sms_short_codes=("70070", "70085", "60777", "87654", "81400"),
    sender_short_codes=("60600", "2732", "88802", "64446", "81400"),
    visited_networks=(
        VisitedNetwork("208-10", "FR", "SFR", RoamingZone.EU_EEA),
        VisitedNetwork("214-01", "ES", "Vodafone", RoamingZone.EU_EEA),
        VisitedNetwork("222-10", "IT", "Vodafone", RoamingZone.EU_EEA),
        VisitedNetwork("262-02", "DE", "Vodafone", RoamingZone.EU_EEA),
        VisitedNetwork("272-01", "IE", "Vodafone", RoamingZone.EU_EEA),
        VisitedNetwork("268-01", "PT", "Vodafone", RoamingZone.EU_EEA),
        VisitedNetwork("204-04", "NL", "Vodafone", RoamingZone.EU_EEA),
        VisitedNetwork("202-05", "GR", "Vodafone", RoamingZone.EU_EEA),
        VisitedNetwork("242-01", "NO", "Telenor", RoamingZone.EU_EEA),
        VisitedNetwork("310-260", "US", "T-Mobile", RoamingZone.WORLD),
        VisitedNetwork("228-01", "CH", "Swisscom", RoamingZone.WORLD),
        VisitedNetwork("286-01", "TR", "Turkcell", RoamingZone.WORLD),
        VisitedNetwork("424-02", "AE", "Etisalat", RoamingZone.WORLD),
        VisitedNetwork("520-03", "TH", "AIS", RoamingZone.WORLD),
        VisitedNetwork("404-10", "IN", "Airtel", RoamingZone.WORLD),
    ),
)

FR = HostCountry(
    code="FR",
    plmn="208-01",
    operator="Orange",
    language="fr",
    calling_code="33",
    msisdn_ranges=(
        (33612000000, 33629999999),
        (33640000000, 33689999999),
        (33730000000, 33799999999),
    ),
    iccid_prefix="893301",
    msin_digits=10,
    msin_base=7_000_000_000,
    plans=_plans("fr-payg", "fr-essentiel", "fr-confort", "fr-illimite"),
    causes=("restos-du-coeur", "secours-populaire", "fondation-abbe-pierre", "wwf-france"),
    given_names=_FR_GIVEN_NAMES,
    family_names=_FR_FAMILY_NAMES,
    mobile=_t(
        ("3361", 7),
        ("3362", 7),
        ("3364", 7),
        ("3365", 7),
        ("3366", 7),
        ("3367", 7),
        ("3368", 7),
        ("3375", 7),
        ("3376", 7),
        ("3377", 7),
        ("3378", 7),
    ),
    landline=_t(
        ("331", 8),  # Île-de-France
        ("3324", 7),  # north-west
        ("3347", 7),  # south-east
        ("3355", 7),  # south-west
        ("339", 8),  # non-geographic (box) numbers
    ),
    premium=_t(("33891", 6), ("33892", 6), ("33897", 6), ("33899", 6)),
    freephone=_t(("33800", 6), ("33805", 6)),
    voice_short_codes=("3900", "888", "3179", "3970"),
    sms_short_codes=("92192", "38100", "36179", "61212", "92033"),
    sender_short_codes=("36001", "38600", "20333", "36665", "38030"),
    visited_networks=(
        VisitedNetwork("214-07", "ES", "Movistar", RoamingZone.EU_EEA),
        VisitedNetwork("222-01", "IT", "TIM", RoamingZone.EU_EEA),
        VisitedNetwork("262-01", "DE", "Telekom", RoamingZone.EU_EEA),
        VisitedNetwork("206-01", "BE", "Proximus", RoamingZone.EU_EEA),
        VisitedNetwork("268-06", "PT", "MEO", RoamingZone.EU_EEA),
        VisitedNetwork("204-08", "NL", "KPN", RoamingZone.EU_EEA),
        VisitedNetwork("270-01", "LU", "POST", RoamingZone.EU_EEA),
        VisitedNetwork("202-01", "GR", "Cosmote", RoamingZone.EU_EEA),
        VisitedNetwork("228-01", "CH", "Swisscom", RoamingZone.WORLD),
        VisitedNetwork("234-10", "GB", "O2", RoamingZone.WORLD),
        VisitedNetwork("604-00", "MA", "Orange", RoamingZone.WORLD),
        VisitedNetwork("605-03", "TN", "Orange", RoamingZone.WORLD),
        VisitedNetwork("310-410", "US", "AT&T", RoamingZone.WORLD),
        VisitedNetwork("302-720", "CA", "Rogers", RoamingZone.WORLD),
        VisitedNetwork("608-01", "SN", "Orange", RoamingZone.WORLD),
    ),
)

US = HostCountry(
    code="US",
    plmn="310-120",
    operator="Sprint",
    language="en",
    calling_code="1",
    msisdn_ranges=_nanp_ranges(("917", "646", "347")),
    iccid_prefix="891120",
    msin_digits=9,
    msin_base=700_000_000,
    plans=_plans("us-payg", "us-basic", "us-plus", "us-unlimited"),
    causes=("feeding-america", "save-the-children-us", "wwf-us"),
    given_names=_US_GIVEN_NAMES,
    family_names=_US_FAMILY_NAMES,
    mobile=_t(
        ("12122", 6),
        ("12125", 6),
        ("13107", 6),
        ("13124", 6),
        ("14153", 6),
        ("16172", 6),
        ("12023", 6),
        ("13058", 6),
        ("17133", 6),
        ("14045", 6),
        ("12067", 6),
        ("16462", 6),
        ("19172", 6),
    ),
    # NANP does not tell mobile from landline numbers: the same areas serve both.
    landline=_t(("12124", 6), ("17182", 6), ("13123", 6), ("12135", 6), ("17135", 6)),
    premium=_t(("19002", 6), ("19005", 6), ("19009", 6)),
    freephone=_t(("18002", 6), ("18005", 6), ("18884", 6), ("18776", 6)),
    voice_short_codes=("611", "123", "2255"),
    sms_short_codes=("90999", "50555", "22333", "20222", "864233"),
    sender_short_codes=("32665", "40404", "28748", "72975", "227898"),
    visited_networks=(
        VisitedNetwork("208-20", "FR", "Bouygues Telecom", RoamingZone.EU_EEA),
        VisitedNetwork("222-01", "IT", "TIM", RoamingZone.EU_EEA),
        VisitedNetwork("214-03", "ES", "Orange", RoamingZone.EU_EEA),
        VisitedNetwork("262-03", "DE", "Telefónica", RoamingZone.EU_EEA),
        VisitedNetwork("272-02", "IE", "Three", RoamingZone.EU_EEA),
        VisitedNetwork("204-16", "NL", "Odido", RoamingZone.EU_EEA),
        VisitedNetwork("334-020", "MX", "Telcel", RoamingZone.WORLD),
        VisitedNetwork("302-220", "CA", "Telus", RoamingZone.WORLD),
        VisitedNetwork("234-15", "GB", "Vodafone", RoamingZone.WORLD),
        VisitedNetwork("440-10", "JP", "NTT docomo", RoamingZone.WORLD),
        VisitedNetwork("338-050", "JM", "Digicel", RoamingZone.WORLD),
        VisitedNetwork("370-02", "DO", "Claro", RoamingZone.WORLD),
        VisitedNetwork("722-310", "AR", "Claro", RoamingZone.WORLD),
    ),
)

HOST_COUNTRIES: dict[str, HostCountry] = {country.code: country for country in (GB, FR, US)}
