"""The "my usage" page, as each persona sees it, over usage delivered, ingested and rated
through the real pipeline (tests/usage/rated_data.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.lines import services as lines
from kindwave.lines.models import Line, Market
from kindwave.usage import views
from tests.conftest import client_for
from tests.lines.conftest import AT, FIRST_ICCID, FIRST_IMSI, FIRST_NUMBER, LAST_NUMBER
from tests.usage.rated_data import ALICES_MONTH, CYCLE, deliver_and_rate, texts

pytestmark = pytest.mark.django_db


@pytest.fixture
def gb(settings, tmp_path: Path) -> Market:
    settings.DATA_DIR = tmp_path / "data"
    lines.load_catalog_file(lines.demo_catalog_path("gb"))
    market = Market.objects.get(code="GB")
    lines.add_number_block(market, FIRST_NUMBER, LAST_NUMBER)
    lines.add_sims(market, FIRST_ICCID, FIRST_IMSI, 10)
    return market


@pytest.fixture
def alices_line(gb: Market, alice: User) -> Line:
    """Alice's line on Everyday, active since 1 March 2026, nothing rated yet."""
    return lines.activate_line(lines.order_line(alice, gb, "gb-everyday", at=AT), at=AT)


@pytest.fixture
def rated_line(alices_line: Line, tmp_path: Path) -> Line:
    """Alice's line with a month of usage rated (calls, texts, data, roaming)."""
    deliver_and_rate(tmp_path / "delivery", alices_line, ALICES_MONTH)
    return alices_line


def usage_url(line: Line, **query: object) -> str:
    url = reverse("usage:my_usage", args=[line.pk])
    if query:
        url += "?" + "&".join(f"{key}={value}" for key, value in query.items())
    return url


def get_page(user: User, url: str, **headers: str) -> tuple[int, str]:
    response = client_for(user).get(url, headers=headers)
    return response.status_code, response.content.decode()


class TestPage:
    def test_shows_the_month_chart_allowances_charges_and_records(
        self, rated_line: Line, alice: User
    ) -> None:
        status, page = get_page(alice, usage_url(rated_line, cycle=CYCLE))

        assert status == 200
        assert "<h1>My usage</h1>" in page
        assert "March 2026" in page
        # a chart per service, each with a text alternative and a table of its figures
        assert page.count('role="img"') == 3
        assert 'class="zone-home"' in page
        assert 'class="zone-roam_like_at_home"' in page
        assert 'class="zone-rest_of_world"' in page
        assert "the figures, day by day" in page
        # allowances: unlimited calls and texts, 40 GB of data of which 3.5 MB used
        assert "Unlimited — 2:05 used" in page
        assert "40 GB" in page
        # the charges, each invoice line rounded once: 98p + 12p + 75p
        assert "£0.98" in page
        assert "£0.12" in page
        assert "£0.75" in page
        assert "<strong>£1.85</strong>" in page
        # the records, newest first, with the counterpart as people read it
        assert page.index("+1 212-555-0100") < page.index("+44 7700 900123")
        assert "Call received" in page
        assert "1:30" in page  # the premium call, minutes:seconds
        assert "2 MB" in page or "2.0 MB" in page

    def test_times_are_shown_in_the_subscribers_time_zone(
        self, rated_line: Line, alice: User
    ) -> None:
        alice.time_zone = "Asia/Tokyo"  # UTC+9, no summer time
        alice.save(update_fields=["time_zone"])

        _, page = get_page(alice, usage_url(rated_line, cycle=CYCLE))

        # the call at 10:15 UTC on 2 March was at 19:15 in Tokyo
        assert 'datetime="2026-03-02T10:15:00+00:00"' in page
        assert "7:15 p.m." in page

    def test_in_french_with_french_money(self, rated_line: Line, alice: User) -> None:
        alice.language = "fr"
        alice.save(update_fields=["language"])

        _, page = get_page(alice, usage_url(rated_line, cycle=CYCLE))

        assert '<html lang="fr">' in page
        assert "<h1>Ma consommation</h1>" in page
        assert "mars 2026" in page
        assert "1,85\xa0£GB" in page
        assert "Appel reçu" in page

    def test_defaults_to_the_latest_rated_month_when_this_one_has_none(
        self, rated_line: Line, alice: User
    ) -> None:
        status, page = get_page(alice, usage_url(rated_line))

        assert status == 200
        assert '<option value="2026-03" selected>March 2026</option>' in page
        assert "£1.85" in page

    def test_nothing_rated_yet_shows_the_empty_state(self, alices_line: Line, alice: User) -> None:
        status, page = get_page(alice, usage_url(alices_line))

        assert status == 200
        assert "Nothing to show for this month yet" in page
        assert "<svg" not in page

    @pytest.mark.parametrize("cycle", ["2026-13", "march", "2026-3", "20260301", ""])
    def test_a_bad_month_is_a_clear_400(self, rated_line: Line, alice: User, cycle: str) -> None:
        status, page = get_page(alice, usage_url(rated_line, cycle=cycle))

        assert status == 400
        assert "is not a billing month" in page
        assert 'role="alert"' in page

    @pytest.mark.parametrize("page_number", ["0", "-1", "two"])
    def test_a_bad_page_is_a_clear_400(
        self, rated_line: Line, alice: User, page_number: str
    ) -> None:
        status, page = get_page(alice, usage_url(rated_line, cycle=CYCLE, page=page_number))

        assert status == 400
        assert "The page must be a whole number from 1." in page

    def test_a_month_without_usage_is_empty_not_an_error(
        self, rated_line: Line, alice: User
    ) -> None:
        status, page = get_page(alice, usage_url(rated_line, cycle="2025-12"))

        assert status == 200
        assert "Nothing to show for this month yet" in page

    def test_links_from_the_line_page(self, rated_line: Line, alice: User) -> None:
        _, page = get_page(alice, reverse("lines:detail", args=[rated_line.pk]))

        assert f'href="{usage_url(rated_line)}"' in page

    def test_query_count_is_bounded(
        self, rated_line: Line, alice: User, django_assert_max_num_queries
    ) -> None:
        client = client_for(alice)
        client.get(usage_url(rated_line, cycle=CYCLE))  # warm the session

        with django_assert_max_num_queries(15):
            response = client.get(usage_url(rated_line, cycle=CYCLE))
        assert response.status_code == 200


class TestPagination:
    @pytest.fixture
    def busy_line(self, alices_line: Line, tmp_path: Path) -> Line:
        deliver_and_rate(tmp_path / "delivery", alices_line, ALICES_MONTH + texts(60))
        return alices_line

    def test_fifty_records_a_page_newest_first_with_plain_links(
        self, busy_line: Line, alice: User
    ) -> None:
        _, first = get_page(alice, usage_url(busy_line, cycle=CYCLE))
        _, second = get_page(alice, usage_url(busy_line, cycle=CYCLE, page=2))

        assert first.count("<time datetime=") == views.PER_PAGE
        assert "67 records this month" in first
        assert f'href="?cycle={CYCLE}&amp;page=2" rel="next"' in first
        assert "Page 1 of 2" in first
        assert second.count("<time datetime=") == 67 - views.PER_PAGE
        assert f'href="?cycle={CYCLE}&amp;page=1" rel="prev"' in second
        assert 'rel="next"' not in second
        # the oldest record of the month is the last one of the last page
        assert second.rsplit('<time datetime="', 1)[1].startswith("2026-03-02T10:15:00")

    def test_htmx_load_more_returns_only_the_next_rows(self, busy_line: Line, alice: User) -> None:
        status, fragment = get_page(
            alice, usage_url(busy_line, cycle=CYCLE, page=2), HX_Request="true"
        )

        assert status == 200
        assert "<html" not in fragment
        assert fragment.count("<tr>") == 67 - views.PER_PAGE
        assert 'id="records-more"' in fragment
        assert 'hx-swap-oob="true"' in fragment
        assert "67 of 67 records shown" in fragment

    def test_a_page_after_the_last_is_empty(self, busy_line: Line, alice: User) -> None:
        status, page = get_page(alice, usage_url(busy_line, cycle=CYCLE, page=9))

        assert status == 200
        assert "There are no records on this page." in page


class TestAccess:
    """Only the line's owner sees its usage: everyone else gets the same 404."""

    @pytest.mark.parametrize("persona", ["bob", "charlie", "cause_admin", "staff"])
    def test_anyone_but_the_owner_gets_404(
        self, rated_line: Line, persona: str, request: pytest.FixtureRequest
    ) -> None:
        user = request.getfixturevalue(persona)

        status, page = get_page(user, usage_url(rated_line, cycle=CYCLE))

        assert status == 404
        assert rated_line.msisdn not in page

    def test_a_missing_line_is_the_same_404(self, rated_line: Line, charlie: User) -> None:
        status, _ = get_page(charlie, reverse("usage:my_usage", args=[rated_line.pk + 1000]))

        assert status == 404

    def test_anonymous_is_sent_to_login(self, rated_line: Line) -> None:
        response = Client().get(usage_url(rated_line))

        assert response.status_code == 302
        assert response.url.startswith(reverse("accounts:login"))


class TestFormatting:
    @pytest.mark.parametrize(
        ("seconds", "shown"), [(0, "0:00"), (5, "0:05"), (125, "2:05"), (3725, "62:05")]
    )
    def test_durations_in_minutes_and_seconds(self, seconds: int, shown: str) -> None:
        assert views.duration(seconds) == shown

    @pytest.mark.parametrize(
        ("kilobytes", "shown"),
        [(88, "88 kB"), (1500, "1.5 MB"), (250_000, "250 MB"), (40_960_000, "40 GB")],
    )
    def test_data_sizes(self, kilobytes: int, shown: str) -> None:
        assert views.data_amount(kilobytes) == shown

    @pytest.mark.parametrize(
        ("maximum", "top"), [(0, 1.0), (3, 4.0), (9.5, 10.0), (125, 200.0), (0.3, 0.4)]
    )
    def test_the_chart_axis_ends_at_a_round_number_above_the_highest_bar(
        self, maximum: float, top: float
    ) -> None:
        ceiling, step = views.nice_ceiling(maximum)

        assert ceiling == pytest.approx(top)
        assert ceiling >= maximum
        assert ceiling == pytest.approx(step * 4)
