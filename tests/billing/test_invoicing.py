"""The invoice rules, computed by hand (docs/billing-rules.md): proration, VAT, the 10 %
share, one-offs, credits; and, for any facts, that every split adds up."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kindwave.billing.services.invoicing import (
    CarrierFact,
    CatalogTerms,
    LineFacts,
    cause_share,
    compute_invoice,
    half_up,
    prorated_fee,
    vat_of,
)
from kindwave.usage.services import ChargeLine

MARCH = "2026-03"  # 31 days


def at(day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(2026, 3, day, hour, minute, tzinfo=UTC)


GB = CatalogTerms(
    effective_from=datetime(2026, 1, 1, tzinfo=UTC),
    tax_mode="inclusive",
    vat_rate=Decimal("0.2000"),
    fees={"gb-payg": 0, "gb-starter": 600, "gb-everyday": 1000},
    plan_names={
        "gb-payg": ("Pay as you go", "Sans forfait"),
        "gb-starter": ("Starter", "Démarrage"),
        "gb-everyday": ("Everyday", "Quotidien"),
    },
    class_names={"premium": ("Premium numbers", "Numéros surtaxés")},
    zone_names={"world": ("Rest of the world", "Reste du monde")},
)
US = CatalogTerms(
    effective_from=datetime(2026, 1, 1, 5, tzinfo=UTC),
    tax_mode="exclusive",
    vat_rate=Decimal("0.0000"),
    fees={"us-basic": 1500},
    plan_names={"us-basic": ("Basic", "Basique")},
)
FR = CatalogTerms(
    effective_from=datetime(2025, 12, 31, 23, tzinfo=UTC),
    tax_mode="inclusive",
    vat_rate=Decimal("0.2000"),
    fees={"fr-essentiel": 499},
    plan_names={"fr-essentiel": ("Essential", "Essentiel")},
)


def line(
    *,
    activated: datetime = datetime(2026, 1, 5, tzinfo=UTC),
    terminated: datetime | None = None,
    plans: tuple[tuple[datetime, str], ...] = ((datetime(2026, 1, 5, tzinfo=UTC), "gb-starter"),),
    cause: int | None = 7,
    currency: str = "GBP",
    language: str = "en",
    **extra: object,
) -> LineFacts:
    states = [(activated - timedelta(days=1), "ordered"), (activated, "active")]
    if terminated is not None:
        states.append((terminated, "terminated"))
    subscriptions = [
        (start, plans[n + 1][0] if n + 1 < len(plans) else terminated, code)
        for n, (start, code) in enumerate(plans)
    ]
    return LineFacts(
        line_id=1,
        currency=currency,
        language=language,
        states=states,
        subscriptions=subscriptions,
        causes=[(activated - timedelta(days=1), cause)],
        **extra,  # type: ignore[arg-type]
    )


def charge(amount: str, service: str = "voice", zone_kind: str = "home") -> ChargeLine:
    return ChargeLine(
        plan_code="gb-starter",
        service=service,
        direction="out",
        zone_code="world" if zone_kind != "home" else "home",
        zone_kind=zone_kind,
        class_code="premium" if service == "voice" else None,
        records=1,
        quantity=90,
        included=0,
        charged=90,
        charge=Decimal(amount),
        currency="GBP",
    )


class TestGoldenInvoices:
    def test_a_whole_month_is_exactly_the_fee(self) -> None:
        draft = compute_invoice(line(), MARCH, [GB], share_percent=10)
        assert draft is not None
        # £6.00 including VAT: VAT = 600 x 0.2 / 1.2 = 100; net 500; 10 % = 50.
        assert [(item.kind, item.amount_minor) for item in draft.lines] == [("plan_fee", 600)]
        assert draft.lines[0].description == "Starter: monthly fee"
        assert (draft.net_minor, draft.vat_minor, draft.total_minor) == (500, 100, 600)
        assert (draft.cause_id, draft.cause_share_minor) == (7, 50)

    def test_activation_mid_month_counts_the_day_of_activation(self) -> None:
        draft = compute_invoice(line(activated=at(10, 9)), MARCH, [GB], share_percent=10)
        assert draft is not None
        # 10 to 31 March = 22 days: 600 x 22 / 31 = 425.81 → 426; VAT 426 / 6 = 71;
        # net 355; 10 % = 35.5 → 36 (half-up, in the cause's favour).
        assert draft.lines[0].amount_minor == 426
        assert (draft.lines[0].period_start.day, draft.lines[0].period_end.day) == (10, 31)
        assert "(22 of 31 days)" in draft.lines[0].description
        assert (draft.net_minor, draft.vat_minor, draft.cause_share_minor) == (355, 71, 36)

    @pytest.mark.parametrize("hour", [0, 12])
    def test_a_plan_change_bills_the_day_to_the_plan_at_its_last_moment(self, hour: int) -> None:
        plans = ((datetime(2026, 1, 5, tzinfo=UTC), "gb-starter"), (at(16, hour), "gb-everyday"))
        draft = compute_invoice(line(plans=plans), MARCH, [GB], share_percent=10)
        assert draft is not None
        # 1-15: 600 x 15/31 = 290.32 → 290; 16-31: 1000 x 16/31 = 516.13 → 516.
        # Gross 806; VAT 806/6 = 134.33 → 134; net 672; share 67.2 → 67.
        assert [(i.amount_minor, i.quantity) for i in draft.lines] == [(290, 15), (516, 16)]
        assert (draft.net_minor, draft.vat_minor, draft.cause_share_minor) == (672, 134, 67)

    def test_termination_mid_month_counts_the_last_day_and_vat_rounds_half_even(self) -> None:
        draft = compute_invoice(line(terminated=at(20, 15)), MARCH, [GB], share_percent=10)
        assert draft is not None
        # 1-20 March: 600 x 20/31 = 387.10 → 387; VAT 387/6 = 64.5 → 64 (tie, to even).
        assert draft.lines[0].amount_minor == 387
        assert (draft.net_minor, draft.vat_minor, draft.cause_share_minor) == (323, 64, 32)

    def test_a_line_terminated_at_midnight_does_not_pay_the_next_day(self) -> None:
        draft = compute_invoice(line(terminated=at(21)), MARCH, [GB], share_percent=10)
        assert draft is not None
        assert draft.lines[0].quantity == 20

    def test_us_prices_exclude_tax_and_the_us_has_no_vat(self) -> None:
        facts = line(
            plans=((datetime(2026, 1, 5, tzinfo=UTC), "us-basic"),), currency="USD", cause=None
        )
        draft = compute_invoice(facts, MARCH, [US], share_percent=10)
        assert draft is not None
        assert (draft.net_minor, draft.vat_minor, draft.total_minor) == (1500, 0, 1500)
        assert (draft.cause_id, draft.cause_share_minor) == (None, 150)  # the foundation

    def test_exclusive_vat_is_net_times_rate_half_even(self) -> None:
        taxed = CatalogTerms(**{**US.__dict__, "vat_rate": Decimal("0.0825")})
        facts = line(plans=((datetime(2026, 1, 5, tzinfo=UTC), "us-basic"),), currency="USD")
        draft = compute_invoice(facts, MARCH, [taxed], share_percent=10)
        assert draft is not None
        # 1500 x 0.0825 = 123.75 → 124; total = net + VAT.
        assert (draft.net_minor, draft.vat_minor, draft.total_minor) == (1500, 124, 1624)
        assert vat_of(1000, Decimal("0.0825"), "exclusive") == 82  # 82.5, tie to even

    def test_usage_lines_round_once_each_and_zero_lines_are_left_out(self) -> None:
        facts = line(
            charges=[charge("0.975"), charge("0.125", zone_kind="priced"), charge("0.004", "data")]
        )
        draft = compute_invoice(facts, MARCH, [GB], share_percent=10)
        assert draft is not None
        usage = [(i.description, i.amount_minor) for i in draft.lines if i.kind == "usage"]
        assert usage == [
            ("Calls to Premium numbers", 98),  # 97.5 → 98 (tie, to even)
            ("Calls to Premium numbers, roaming in Rest of the world", 12),  # 12.5 → 12
        ]
        # Gross 600 + 110 = 710; VAT 710/6 = 118.33 → 118; net 592; share 59.2 → 59.
        assert (draft.net_minor, draft.vat_minor, draft.cause_share_minor) == (592, 118, 59)

    def test_a_donation_and_a_purchase_are_outside_vat_and_outside_the_share(self) -> None:
        facts = line(
            carrier=[
                CarrierFact(1, "donation", "Donation to WaterAid", 500, cause_id=7),
                CarrierFact(2, "purchase", "Museum ticket", 250),
            ]
        )
        draft = compute_invoice(facts, MARCH, [GB], share_percent=10)
        assert draft is not None
        assert [i.kind for i in draft.lines] == ["plan_fee", "donation", "purchase"]
        assert (draft.net_minor, draft.vat_minor, draft.extras_minor) == (500, 100, 750)
        assert (draft.total_minor, draft.cause_share_minor, draft.donations_minor) == (
            1350,
            50,
            500,
        )

    @pytest.mark.parametrize(("wallet", "credit", "total"), [(300, -300, 300), (1000, -600, 0)])
    def test_the_wallet_pays_up_to_the_amount_due(
        self, wallet: int, credit: int, total: int
    ) -> None:
        draft = compute_invoice(line(wallet_minor=wallet), MARCH, [GB], share_percent=10)
        assert draft is not None
        assert (draft.credits_minor, draft.total_minor) == (credit, total)
        assert draft.lines[-1].kind == "credit"
        assert draft.lines[-1].amount_minor == credit
        assert draft.net_minor == 500  # a credit never changes the net or the share

    def test_no_cause_chosen_gives_the_share_to_the_foundation(self) -> None:
        draft = compute_invoice(line(cause=None), MARCH, [GB], share_percent=10)
        assert draft is not None
        assert (draft.cause_id, draft.cause_share_minor) == (None, 50)

    def test_a_french_subscriber_gets_the_french_plan_name_in_euros(self) -> None:
        facts = line(
            plans=((datetime(2026, 1, 5, tzinfo=UTC), "fr-essentiel"),),
            currency="EUR",
            language="fr",
        )
        draft = compute_invoice(facts, MARCH, [FR], share_percent=10)
        assert draft is not None
        assert draft.currency == "EUR"
        assert draft.language == "fr"
        assert draft.lines[0].description.startswith("Essentiel")
        # 4,99 € TTC: VAT = 499/6 = 83.17 → 83; net 416; share 41.6 → 42.
        assert (draft.net_minor, draft.vat_minor, draft.cause_share_minor) == (416, 83, 42)

    def test_nothing_to_bill_gives_no_invoice(self) -> None:
        payg = line(plans=((datetime(2026, 1, 5, tzinfo=UTC), "gb-payg"),))
        assert compute_invoice(payg, MARCH, [GB], share_percent=10) is None
        later = line(activated=datetime(2026, 4, 2, tzinfo=UTC))
        assert compute_invoice(later, MARCH, [GB], share_percent=10) is None

    def test_a_price_change_mid_month_splits_the_fee(self) -> None:
        rise = CatalogTerms(
            **{**GB.__dict__, "effective_from": at(11), "fees": {"gb-starter": 700}}
        )
        draft = compute_invoice(line(), MARCH, [GB, rise], share_percent=10)
        assert draft is not None
        # 1-10 at £6: 600 x 10/31 = 193.55 → 194; 11-31 at £7: 700 x 21/31 = 474.19 → 474.
        assert [i.amount_minor for i in draft.lines] == [194, 474]


class TestRoundingRules:
    def test_the_share_rounds_half_up(self) -> None:
        assert cause_share(345, 10) == 35  # 34.5 → 35 (half-even would give 34)
        assert cause_share(344, 10) == 34
        assert half_up(Fraction(5, 2)) == 3

    def test_a_whole_month_is_the_fee_for_every_month_length(self) -> None:
        for days in (28, 29, 30, 31):
            assert prorated_fee(999, days, days) == 999


# --- Properties --------------------------------------------------------------------------

day = st.integers(1, 31)


@st.composite
def any_line(draw: st.DrawFn) -> LineFacts:
    activated = at(draw(day), draw(st.integers(0, 23)))
    terminated = draw(st.none() | st.builds(lambda d, h: at(d, h), day, st.integers(0, 23)))
    if terminated is not None and terminated <= activated:
        terminated = None
    plans = [(activated - timedelta(hours=1), draw(st.sampled_from(sorted(GB.fees))))]
    for _ in range(draw(st.integers(0, 3))):
        start = plans[-1][0] + timedelta(hours=draw(st.integers(1, 200)))
        plans.append((start, draw(st.sampled_from(sorted(GB.fees)))))
    charges = [
        charge(str(Decimal(draw(st.integers(0, 10**6))) / 1000))
        for _ in range(draw(st.integers(0, 4)))
    ]
    carrier = [
        CarrierFact(
            n, draw(st.sampled_from(["donation", "purchase"])), "x", draw(st.integers(1, 5000))
        )
        for n in range(draw(st.integers(0, 2)))
    ]
    return line(
        activated=activated,
        terminated=terminated,
        plans=tuple(plans),
        charges=charges,
        carrier=carrier,
        wallet_minor=draw(st.integers(-100, 5000)),
        cause=draw(st.none() | st.just(3)),
    )


@given(
    facts=any_line(),
    mode=st.sampled_from(["inclusive", "exclusive"]),
    rate=st.sampled_from(["0.2000", "0.0550", "0.0825", "0"]),
    percent=st.integers(0, 100),
)
def test_every_split_adds_up(facts: LineFacts, mode: str, rate: str, percent: int) -> None:
    terms = CatalogTerms(**{**GB.__dict__, "tax_mode": mode, "vat_rate": Decimal(rate)})
    draft = compute_invoice(facts, MARCH, [terms], share_percent=percent)
    if draft is None:
        return
    lines_sum = sum(item.amount_minor for item in draft.lines)
    taxable = sum(item.amount_minor for item in draft.lines if item.vat_applies)
    assert draft.total_minor == (
        draft.net_minor + draft.vat_minor + draft.extras_minor + draft.credits_minor
    )
    assert draft.total_minor == lines_sum + (draft.vat_minor if mode == "exclusive" else 0)
    assert draft.net_minor + (draft.vat_minor if mode == "inclusive" else 0) == taxable
    assert draft.cause_share_minor + draft.operator_keeps_minor == draft.net_minor
    assert 0 <= draft.cause_share_minor <= draft.net_minor
    assert abs(draft.cause_share_minor * 100 - draft.net_minor * percent) <= 50
    assert draft.total_minor >= 0
    assert draft.credits_minor <= 0
    fee_days = sum(item.quantity for item in draft.lines if item.kind == "plan_fee")
    assert fee_days <= 31
