"""The community in a real browser: alice writes a post (the counter follows her typing, a
link counting 23) and it appears at the top of her home without a reload; scrolling loads
her older posts; she favourites and boosts bob's post; she follows WaterAid from its
profile and WaterAid's next post reaches her home; charlie cannot open her followers-only
post. The accessibility basics are checked on each page at a phone's width (screenshots in
artifacts/screenshots/community-*.png)."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from kindwave.accounts.models import User
from kindwave.causes.models import Cause
from kindwave.community.models import Favourite, Status, Visibility
from kindwave.community.services import follows, posts
from kindwave.community.services.accounts import ensure_account, ensure_cause_account
from kindwave.community.views.social import PAGE_SIZE
from kindwave.lines.models import Market

from .conftest import PageProblems, screenshot
from .test_accessibility import PHONE, problems_on


@pytest.fixture
def community(gb_operator: Market, alice: User, bob: User, charlie: User) -> Cause:
    """alice follows bob; the demo causes exist. Returns WaterAid."""
    follows.follow(ensure_account(alice), ensure_account(bob))
    ensure_account(charlie)
    return Cause.objects.get(slug="wateraid")


def _no_reload_marker(page: Page) -> None:
    page.evaluate("window.__sameDocument = true")


def _same_document(page: Page) -> bool:
    return bool(page.evaluate("window.__sameDocument === true"))


def test_alice_posts_and_her_post_appears_without_a_reload(
    page: Page,
    page_problems: PageProblems,
    community: Cause,
    alice: User,
    log_in: Callable[[Page, User], None],
) -> None:
    log_in(page, alice)
    page.goto("/")
    page.get_by_role("navigation", name="Main navigation").get_by_role(
        "link", name="Community", exact=True
    ).click()
    expect(page.locator("h1")).to_have_text("Your home")
    _no_reload_marker(page)
    counter = page.locator("#compose-count")
    expect(counter).to_have_text("500 characters left")

    # when alice types, the counter follows; a link counts 23 whatever its length
    box = page.get_by_label("What would you like to share?")
    box.fill("Hello")
    expect(counter).to_have_text("495 characters left")
    box.fill("Hello https://example.org/" + "a" * 60)
    expect(counter).to_have_text(f"{500 - 6 - 23} characters left")
    # …and is announced to screen readers once she pauses
    expect(page.locator("[data-compose-announce]")).to_have_text(f"{500 - 6 - 23} characters left")
    box.fill("x" * 505)
    expect(counter).to_have_text("5 characters too many")
    box.fill("Hello from the browser #kindwave")
    screenshot(page, "community-compose")

    # when she publishes
    page.get_by_role("button", name="Publish").click()

    # then her post is at the top of her home, without a reload, and the box is empty
    first = page.locator("#timeline article.status").first
    expect(first).to_contain_text("Hello from the browser")
    expect(page.locator("#compose")).to_contain_text("Your post is published.")
    expect(page.get_by_label("What would you like to share?")).to_have_value("")
    assert _same_document(page)
    assert Status.objects.filter(text="Hello from the browser #kindwave").count() == 1
    page_problems.assert_none()


def test_an_over_long_post_is_refused_next_to_the_box(
    page: Page,
    page_problems: PageProblems,
    community: Cause,
    alice: User,
    log_in: Callable[[Page, User], None],
) -> None:
    log_in(page, alice)
    page.goto("/community/")

    page.get_by_label("What would you like to share?").fill("y" * 501)
    page.get_by_role("button", name="Publish").click()

    expect(page.locator("#compose-text-errors")).to_have_text(
        "A post is at most 500 characters; this one has 501."
    )
    assert not Status.objects.filter(text__startswith="yyy").exists()
    # focus is on the text, whose description is the error; the box still posts by HTMX
    text = page.get_by_label("What would you like to share?")
    expect(text).to_be_focused()
    expect(text).to_have_attribute("aria-invalid", "true")
    expect(text).to_have_attribute("aria-describedby", re.compile("compose-text-errors"))
    _no_reload_marker(page)
    text.fill("Shorter now")
    page.get_by_role("button", name="Publish").click()
    expect(page.locator("#timeline article.status").first).to_contain_text("Shorter now")
    assert _same_document(page)
    page_problems.assert_none()


def test_after_deleting_a_post_focus_moves_to_the_next_one(
    page: Page,
    page_problems: PageProblems,
    community: Cause,
    alice: User,
    log_in: Callable[[Page, User], None],
) -> None:
    account = ensure_account(alice)
    older = posts.post(account, "Older post", visibility=Visibility.PUBLIC)
    newer = posts.post(account, "Newer post", visibility=Visibility.PUBLIC)
    log_in(page, alice)
    page.goto("/community/")
    page.once("dialog", lambda dialog: dialog.accept())

    # when alice deletes her newer post (HTMX asks her to confirm)
    page.locator(f"#status-{newer.pk}").get_by_role("button", name="Delete").click()

    # then its card is gone, focus is on the next card and the deletion is announced
    expect(page.locator(f"#status-{newer.pk}")).to_have_count(0)
    expect(page.locator(f"#status-{older.pk}")).to_be_focused()
    expect(page.locator("[data-community-announce]")).to_have_text("Your post is deleted.")

    # when she deletes the last one, focus goes to the compose box
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#status-{older.pk}").get_by_role("button", name="Delete").click()
    expect(page.locator(f"#status-{older.pk}")).to_have_count(0)
    expect(page.get_by_label("What would you like to share?")).to_be_focused()
    assert Status.objects.filter(deleted_at__isnull=False).count() == 2
    page_problems.assert_none()


def test_alice_posts_an_image_with_its_description(
    page: Page,
    page_problems: PageProblems,
    community: Cause,
    alice: User,
    log_in: Callable[[Page, User], None],
) -> None:
    picture = io.BytesIO()
    Image.new("RGB", (64, 48), "teal").save(picture, format="PNG")
    log_in(page, alice)
    page.goto("/community/")
    _no_reload_marker(page)

    page.get_by_label("What would you like to share?").fill("Our new well")
    page.get_by_label("Image (optional)").set_input_files(
        files=[{"name": "well.png", "mimeType": "image/png", "buffer": picture.getvalue()}]
    )
    page.get_by_label("Describe the image for people who cannot see it").fill("A teal square")
    page.get_by_role("button", name="Publish").click()

    first = page.locator("#timeline article.status").first
    expect(first.get_by_role("img", name="A teal square")).to_be_visible()
    assert _same_document(page)
    page_problems.assert_none()


def test_scrolling_loads_older_posts(
    page: Page,
    page_problems: PageProblems,
    community: Cause,
    alice: User,
    log_in: Callable[[Page, User], None],
) -> None:
    account = ensure_account(alice)
    for number in range(PAGE_SIZE + 5):
        posts.post(account, f"Numbered post {number}", visibility=Visibility.PUBLIC)
    log_in(page, alice)
    page.goto("/community/")
    _no_reload_marker(page)
    cards = page.locator("#timeline article.status")
    expect(cards).to_have_count(PAGE_SIZE)

    # when alice scrolls to the end of her home
    page.get_by_role("link", name="Older posts").scroll_into_view_if_needed()

    # then the older posts follow, in order, on the same page
    expect(cards).to_have_count(PAGE_SIZE + 5)
    expect(cards.last).to_contain_text("Numbered post 0")
    expect(page.get_by_role("link", name="Older posts")).to_have_count(0)
    assert _same_document(page)
    page_problems.assert_none()


def test_alice_favourites_and_boosts_bobs_post(
    page: Page,
    page_problems: PageProblems,
    community: Cause,
    alice: User,
    bob: User,
    log_in: Callable[[Page, User], None],
) -> None:
    post = posts.post(ensure_account(bob), "Bob's news", visibility=Visibility.PUBLIC)
    log_in(page, alice)
    page.goto("/community/")
    card = page.locator(f"#status-{post.pk}")

    # when alice favourites bob's post
    favourite = card.get_by_role("button", name="Favourite")
    expect(favourite).to_have_attribute("aria-pressed", "false")
    favourite.click()

    # then the button is pressed, the count is 1, and focus stays on it
    favourite = page.locator(f"#status-{post.pk}").get_by_role("button", name="Favourite")
    expect(favourite).to_have_attribute("aria-pressed", "true")
    expect(favourite).to_contain_text("1")
    expect(favourite).to_be_focused()

    # when she boosts it
    page.locator(f"#status-{post.pk}").get_by_role("button", name="Boost").click()
    boost = page.locator(f"#status-{post.pk}").get_by_role("button", name="Boost")
    expect(boost).to_have_attribute("aria-pressed", "true")
    screenshot(page, "community-home")

    account = ensure_account(alice)
    assert Favourite.objects.filter(account=account, status=post).exists()
    assert Status.objects.filter(account=account, reblog_of=post, deleted_at=None).exists()
    page_problems.assert_none()


def test_alice_follows_a_cause_and_its_next_post_reaches_her_home(
    page: Page,
    page_problems: PageProblems,
    community: Cause,
    alice: User,
    log_in: Callable[[Page, User], None],
) -> None:
    cause_account = ensure_cause_account(community)
    log_in(page, alice)
    page.goto(f"/community/@{cause_account.username}")
    expect(page.locator("h1")).to_have_text(community.name)
    expect(page.get_by_role("link", name=f"Cause: {community.name}")).to_be_visible()

    # when alice follows the cause from its profile
    page.get_by_role("button", name="Follow").click()
    expect(page.get_by_role("button", name="Follow")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(".profile-counts")).to_contain_text("1")
    screenshot(page, "community-cause-profile")

    # and the cause posts
    posts.post(cause_account, "Clean water for 300 more families", visibility="public")

    # then the post is in her home
    page.goto("/community/")
    expect(page.locator("#timeline article.status").first).to_contain_text(
        "Clean water for 300 more families"
    )
    page_problems.assert_none()


def test_charlie_cannot_open_alices_followers_only_post(
    page: Page,
    community: Cause,
    alice: User,
    charlie: User,
    log_in: Callable[[Page, User], None],
) -> None:
    private = posts.post(ensure_account(alice), "Only my followers", visibility="private")
    log_in(page, charlie)

    hidden = page.goto(f"/community/@alice/{private.pk}")
    assert hidden is not None
    hidden_text = page.content()
    missing = page.goto("/community/@alice/999999")
    assert missing is not None

    assert hidden.status == missing.status == 404
    assert "Only my followers" not in hidden_text
    page.goto("/community/@alice")
    expect(page.locator("body")).not_to_contain_text("Only my followers")


@pytest.mark.parametrize(
    "path",
    [
        "/community/",
        "/community/public/",
        "/community/@alice",
        "/community/tags/hello",
        "/community/search/?q=hello",
        "/community/notifications/",
        "status",
    ],
)
def test_accessibility_basics(
    page: Page,
    community: Cause,
    alice: User,
    bob: User,
    log_in: Callable[[Page, User], None],
    path: str,
) -> None:
    posts.post(
        ensure_account(bob), "A post with a warning", visibility="public", spoiler_text="Spoiler"
    )
    mine = posts.post(ensure_account(alice), "alice says #hello", visibility="public")
    posts.favourite(ensure_account(bob), mine)
    log_in(page, alice)
    page.set_viewport_size(PHONE)
    page.goto(f"/community/@alice/{mine.pk}" if path == "status" else path)
    screenshot(page, "community-phone-" + re.sub(r"[^a-z0-9]+", "-", path).strip("-"))

    assert problems_on(page) == {}
