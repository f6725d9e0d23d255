"""The catalogue file format: every problem is reported with its key path, all at once."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from kindwave.lines.catalog_format import (
    CatalogIssue,
    InvalidCatalogError,
    format_path,
    parse_catalog,
    to_minor_units,
)
from kindwave.lines.services import DEMO_MARKETS, demo_catalog_path

from .catalog_samples import MINIMAL, changed


def issues_of(text: str) -> list[CatalogIssue]:
    with pytest.raises(InvalidCatalogError) as caught:
        parse_catalog(text)
    return caught.value.issues


def messages_of(text: str) -> list[str]:
    return [str(issue) for issue in issues_of(text)]


class TestValidFile:
    def test_minimal_catalogue(self) -> None:
        document = parse_catalog(MINIMAL)
        assert document.header.market == "GB"
        assert document.header.vat_rate == Decimal("0.20")
        assert [plan.code for plan in document.plans] == ["gb-payg", "gb-bundle"]
        assert document.monthly_fee_minor == {"gb-payg": 0, "gb-bundle": 1000}

    def test_numbers_are_exact_decimals_never_floats(self) -> None:
        document = parse_catalog(MINIMAL)
        bundle = document.plans[1]
        assert bundle.rates.voice_per_minute["national"] == Decimal("0.20")
        assert isinstance(bundle.rates.data_per_mb, Decimal)
        assert bundle.allowances is not None
        assert bundle.allowances.sms is None  # "unlimited"
        assert bundle.allowances.data_mb == 8192

    @pytest.mark.parametrize("market", DEMO_MARKETS)
    def test_demo_catalogues_are_valid(self, market: str) -> None:
        document = parse_catalog(demo_catalog_path(market).read_text("utf-8"))
        assert document.header.market == market.upper()

    @pytest.mark.parametrize(
        ("market", "codes"),
        [
            ("gb", ["gb-payg", "gb-starter", "gb-everyday", "gb-unlimited"]),
            ("fr", ["fr-payg", "fr-essentiel", "fr-confort", "fr-illimite"]),
            ("us", ["us-payg", "us-basic", "us-plus", "us-unlimited"]),
        ],
    )
    def test_demo_plan_codes_are_the_simulator_contract(
        self, market: str, codes: list[str]
    ) -> None:
        document = parse_catalog(demo_catalog_path(market).read_text("utf-8"))
        assert [plan.code for plan in document.plans] == codes

    def test_french_names_keep_their_accents(self) -> None:
        document = parse_catalog(demo_catalog_path("fr").read_text("utf-8"))
        names = {plan.code: plan.name.fr for plan in document.plans}
        assert names["fr-payg"] == "À la carte"
        assert names["fr-illimite"] == "Illimité"


class TestSyntax:
    def test_toml_syntax_error_gives_line_and_column(self) -> None:
        [issue] = issues_of(changed('tax_mode = "inclusive"', "tax_mode = inclusive"))
        assert (issue.line, issue.column) == (7, 12)
        assert "TOML syntax error" in issue.message
        assert str(issue).startswith("line 7, column 12: ")


class TestEachRuleReportsItsKeyPath:
    @pytest.mark.parametrize(
        ("old", "new", "expected"),
        [
            (
                "data_mb = 8192",
                'data_mb = "lots"',
                'plans[1].allowances.data_mb: must be a whole number ≥ 0 or "unlimited"',
            ),
            (
                "minutes = 500",
                "minutes = -1",
                'plans[1].allowances.minutes: must be a whole number ≥ 0 or "unlimited"',
            ),
            (
                'currency = "GBP"',
                'currency = "EUR"',
                "catalog.currency: GB prices must be in GBP, not EUR",
            ),
            (
                'currency = "GBP"',
                'currency = "JPY"',
                "catalog.currency: must be one of 'GBP', 'EUR' or 'USD'",
            ),
            (
                'host_network = "234-30"',
                'host_network = "208-01"',
                "catalog.host_network: MCC 208 is not a mobile country code of GB "
                "(expected 234, 235)",
            ),
            (
                "effective_from = 2026-01-01T00:00:00Z",
                "effective_from = 2026-01-01T00:00:00",
                "catalog.effective_from: must include a time zone offset, "
                "e.g. 2026-01-01T00:00:00Z or …T00:00:00+01:00",
            ),
            (
                "effective_from = 2026-01-01T00:00:00Z",
                "effective_from = 2026-01-01",
                "catalog.effective_from: must be a date and time with a time zone offset, "
                "not just a date",
            ),
            (
                "effective_from = 2026-01-01T00:00:00Z",
                'effective_from = "2026-01-01T00:00:00Z"',
                "catalog.effective_from: must be an unquoted TOML date-time with offset, "
                "e.g. 2026-01-01T00:00:00Z",
            ),
            (
                "vat_rate = 0.20",
                "vat_rate = 20",
                "catalog.vat_rate: must be a fraction from 0 to under 1, e.g. 0.20 for 20 %",
            ),
            (
                'tax_mode = "inclusive"',
                'tax_mode = "included"',
                "catalog.tax_mode: must be one of 'inclusive' or 'exclusive'",
            ),
            ('market = "GB"', 'market = "DE"', "catalog.market: must be one of 'GB', 'FR' or 'US'"),
            (
                'version = "v1"',
                'version = "v 1"',
                "catalog.version: must be letters, digits, "
                "dots, dashes or underscores (at most 40), e.g. 2026-01",
            ),
            (
                "monthly_fee = 10.00",
                "monthly_fee = 10.005",
                "plans[1].monthly_fee: 10.005 has more decimal places than GBP has minor units "
                "(at most 2)",
            ),
            (
                "monthly_fee = 10.00",
                "monthly_fee = -10.00",
                "plans[1].monthly_fee: must not be negative",
            ),
            (
                "data_per_mb = 0.05",
                "data_per_mb = -0.05",
                "plans[1].rates.data_per_mb: must not be negative",
            ),
            (
                "data_per_mb = 0.05",
                "data_per_mb = 0.0000001",
                "plans[1].rates.data_per_mb: must have at most 6 decimal places",
            ),
            (
                "data_per_mb = 0.05",
                "data_per_mb = true",
                "plans[1].rates.data_per_mb: must be a number, e.g. 0.25",
            ),
            (
                'code = "gb-bundle"',
                'code = "gb-payg"',
                "plans[1].code: duplicate plan code gb-payg (also plans[0])",
            ),
            (
                'code = "gb-bundle"',
                'code = "GB Bundle"',
                "plans[1].code: must be lower-case letters, digits and dashes (at most 40), "
                "e.g. intl-europe",
            ),
            (
                'covers = ["national", "mobile"]',
                'covers = ["national", "mobiles"]',
                "plans[1].allowances.covers[1]: destination class mobiles is not defined in "
                "[[destinations]]",
            ),
            (
                "call_increment_seconds = 1\n\n[plans.allowances]",
                "call_increment_seconds = 0\n\n[plans.allowances]",
                "plans[1].call_increment_seconds: must be a whole number of seconds from 1 to 3600",
            ),
            (
                'name = { en = "Bundle", fr = "Forfait" }',
                'name = { en = "Bundle", fr = " " }',
                "plans[1].name.fr: must not be empty",
            ),
            (
                'name = { en = "Bundle", fr = "Forfait" }',
                'name = { en = "Bundle" }',
                "plans[1].name.fr: is required",
            ),
            (
                'kind = "bundle"',
                'kind = "bundle"\ncolour = "blue"',
                "plans[1].colour: unknown key (misspelt?)",
            ),
            (
                'prefixes = ["+447"]',
                'prefixes = ["+447", "+4478"]',
                "destinations[1].prefixes[1]: overlaps +447 of the same class, which already "
                "covers it",
            ),
            (
                'prefixes = ["+447"]',
                'prefixes = ["+44"]',
                "destinations[1].prefixes[0]: duplicate prefix +44 (already in class national at "
                "destinations[0].prefixes[0])",
            ),
            (
                'prefixes = ["+447"]',
                'prefixes = ["+337"]',
                "destinations[1].prefixes[0]: a mobile prefix must start with the country code +44",
            ),
            (
                'prefixes = ["+447"]',
                'prefixes = ["447"]',
                'destinations[1].prefixes[0]: must start with "+" (only short codes have no "+")',
            ),
            (
                'prefixes = ["999", "112"]',
                'prefixes = ["+999", "112"]',
                'destinations[3].prefixes[0]: short codes are digits only, without "+"',
            ),
            (
                'prefixes = ["+447"]',
                'prefixes = ["+"]',
                'destinations[1].prefixes[0]: "+" alone (any number) is only allowed in an '
                "international class",
            ),
            (
                'prefixes = ["+447"]',
                'prefixes = ["+44 7"]',
                'destinations[1].prefixes[0]: must be "+" and up to 15 digits (e.g. "+447"), or '
                "digits only for a short code",
            ),
            (
                'prefixes = ["+447"]',
                "prefixes = []",
                "destinations[1].prefixes: must list at least one prefix",
            ),
            (
                'code = "mobile"',
                'code = "national"',
                "destinations[1].code: duplicate destination class code national "
                "(also destinations[0])",
            ),
            (
                'mcc = ["208", "262"]',
                'mcc = ["208", "234"]',
                "roaming_zones[1].mcc[1]: MCC 234 is already in zone roaming_zones[0]",
            ),
            (
                'mcc = ["208", "262"]',
                'mcc = ["208", "26"]',
                "roaming_zones[1].mcc[1]: must be a 3-digit mobile country code",
            ),
            (
                'mcc = ["234", "235"]',
                'mcc = ["235"]',
                "roaming_zones[0].mcc: the home zone must include the host network's MCC 234",
            ),
            (
                'kind = "roam_like_at_home"',
                'kind = "priced"',
                "roaming_zones[1].prices: is required for a priced zone",
            ),
            (
                'mcc = ["208", "262"]',
                'mcc = ["208", "262"]\nprices = { voice_out_per_minute = 1, '
                "voice_in_per_minute = 1, sms_out = 1, sms_in = 0, data_per_mb = 1 }",
                "roaming_zones[1].prices: must not be given: a roam_like_at_home zone is rated "
                "at the plan's home prices",
            ),
            (
                "sms_out = 0.40",
                "sms_out = -0.40",
                "roaming_zones[2].prices.sms_out: must not be negative",
            ),
            (
                'kind = "rest_of_world"',
                'kind = "rest_of_world"\nmcc = ["310"]',
                "roaming_zones[2].mcc: the rest-of-the-world zone takes every MCC not listed "
                "elsewhere: list none",
            ),
        ],
    )
    def test_rule(self, old: str, new: str, expected: str) -> None:
        assert expected in messages_of(changed(old, new))

    def test_price_for_an_undefined_class(self) -> None:
        text = MINIMAL.replace(
            "mobile = 0.20, world = 1.00, emergency = 0 }",
            "mobile = 0.20, world = 1.00, emergency = 0, premium = 2 }",
        )
        messages = messages_of(text)
        assert (
            "plans[0].rates.voice_per_minute.premium: destination class premium is not defined "
            "in [[destinations]]"
        ) in messages
        assert (
            "plans[1].rates.voice_per_minute.premium: destination class premium is not defined "
            "in [[destinations]]"
        ) in messages

    def test_every_defined_class_needs_a_price(self) -> None:
        text = MINIMAL.replace(
            "sms_per_message = { national = 0.10, mobile = 0.10, world = 0.30, emergency = 0 }",
            "sms_per_message = { national = 0.10, mobile = 0.10, world = 0.30 }",
        )
        assert messages_of(text) == [
            "plans[0].rates.sms_per_message: no price for destination class(es) emergency "
            "(every class needs one; 0 is free)",
            "plans[1].rates.sms_per_message: no price for destination class(es) emergency "
            "(every class needs one; 0 is free)",
        ]

    def test_payg_has_no_fee_nor_allowances_and_a_bundle_needs_allowances(self) -> None:
        text = changed("monthly_fee = 0", "monthly_fee = 5")
        text = changed("[plans.allowances]", "[plans.included]", text)
        messages = messages_of(text)
        assert "plans[0].monthly_fee: a pay-as-you-go plan has no monthly fee (0)" in messages
        assert "plans[1].allowances: is required for a bundle" in messages
        assert "plans[1].included: unknown key (misspelt?)" in messages

    def test_zones_need_exactly_one_home_and_one_rest_of_world(self) -> None:
        text = changed('kind = "rest_of_world"', 'kind = "home"')
        messages = messages_of(text)
        assert "roaming_zones: exactly one zone of kind home is required, found 2" in messages
        assert "roaming_zones: exactly one zone of kind rest_of_world is required, found 0" in (
            messages
        )

    def test_missing_sections(self) -> None:
        assert messages_of('[catalog]\nmarket = "GB"\n') == [
            "catalog.currency: is required",
            "catalog.effective_from: is required",
            "catalog.host_network: is required",
            "catalog.tax_mode: is required",
            "catalog.vat_rate: is required",
            "catalog.version: is required",
            "destinations: is required (at least one [[destinations]] table)",
            "roaming_zones: is required (at least one [[roaming_zones]] table)",
            "plans: is required (at least one [[plans]] table)",
        ]

    def test_unknown_top_level_key(self) -> None:
        assert messages_of("colour = 1\n" + MINIMAL) == [
            "colour: unknown key (expected catalog, destinations, roaming_zones, plans)"
        ]

    def test_one_bad_field_does_not_hide_the_others(self) -> None:
        # A broken plan (bad kind) still has its fee and references checked.
        text = changed('kind = "bundle"', 'kind = "bunddle"')
        text = changed("monthly_fee = 10.00", "monthly_fee = 10.001", text)
        text = changed('covers = ["national", "mobile"]', 'covers = ["nowhere"]', text)
        assert messages_of(text) == [
            "plans[1].allowances.covers[0]: destination class nowhere is not defined in "
            "[[destinations]]",
            "plans[1].kind: must be one of 'bundle' or 'payg'",
            "plans[1].monthly_fee: 10.001 has more decimal places than GBP has minor units "
            "(at most 2)",
        ]


def test_issues_are_listed_in_file_order_with_numeric_indexes() -> None:
    plans = "".join(
        f'\n[[plans]]\ncode = "p{i}"\nkind = "payg"\nname = {{ en = "P", fr = "P" }}\n'
        "monthly_fee = 0\ncall_minimum_seconds = 0\ncall_increment_seconds = 1\n"
        "[plans.rates]\ndata_per_mb = -1\nvoice_per_minute = { national = 0, mobile = 0, "
        "world = 0, emergency = 0 }\nsms_per_message = { national = 0, mobile = 0, world = 0, "
        "emergency = 0 }\n"
        for i in range(11)
    )
    paths = [issue.path for issue in issues_of(MINIMAL + plans)]
    assert paths[-2:] == ["plans[11].rates.data_per_mb", "plans[12].rates.data_per_mb"]


def test_format_path() -> None:
    assert format_path(("plans", 2, "allowances", "data_mb")) == "plans[2].allowances.data_mb"
    assert format_path(("plans", 0, "rates", "voice_per_minute", "x", "[key]")) == (
        "plans[0].rates.voice_per_minute.x"
    )


@pytest.mark.parametrize(
    ("amount", "minor"),
    [("10", 1000), ("10.5", 1050), ("10.99", 1099), ("0", 0), ("10.995", None), ("0.001", None)],
)
def test_to_minor_units(amount: str, minor: int | None) -> None:
    assert to_minor_units(Decimal(amount), "GBP") == minor


def test_the_documented_example_is_valid() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "catalogue.md").read_text("utf-8")
    example = text.split("```toml\n", 1)[1].split("```", 1)[0]
    document = parse_catalog(example)
    assert [plan.code for plan in document.plans] == ["gb-payg", "gb-starter"]
