"""Reports and the staff's decisions, through the services and the admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from kindwave.accounts.models import User
from kindwave.community.models import Account, Report, Status
from kindwave.community.services import moderation, posts
from kindwave.community.services.errors import CommunityError
from tests.conftest import client_for


@pytest.fixture
def reported(alice_account: Account, charlie_account: Account) -> Report:
    rude = posts.post(charlie_account, "rude", visibility="public")
    return moderation.report(alice_account, charlie_account, status_ids=[rude.pk], comment="spam")


class TestReport:
    def test_queued_for_the_moderators(self, reported: Report) -> None:
        assert moderation.open_reports() == [reported]
        assert [s.text for s in moderation.reported_statuses(reported)] == ["rude"]

    def test_refuses_posts_one_cannot_see_or_of_someone_else(
        self, alice_account: Account, bob_account: Account, charlie_account: Account
    ) -> None:
        hidden = posts.post(charlie_account, "friends", visibility="private")
        other = posts.post(bob_account, "bob's", visibility="public")

        for status in (hidden, other):
            with pytest.raises(CommunityError, match="does not exist"):
                moderation.report(alice_account, charlie_account, status_ids=[status.pk])
        with pytest.raises(CommunityError):
            moderation.report(alice_account, alice_account)
        assert not Report.objects.exists()


class TestResolve:
    def test_delete_posts_then_idempotent(self, reported: Report, staff: User) -> None:
        resolved = moderation.resolve_report(staff, reported, "delete_posts", "spam")
        again = moderation.resolve_report(staff, reported, "dismiss")

        assert resolved.resolved_by == staff
        assert again.resolution == "Reported posts deleted: spam"
        assert Status.objects.get().deleted_at is not None
        assert moderation.open_reports() == []

    def test_only_staff(self, reported: Report, alice: User) -> None:
        with pytest.raises(CommunityError):
            moderation.resolve_report(alice, reported, "dismiss")
        reported.refresh_from_db()
        assert reported.resolved_at is None

    def test_through_the_admin_action(self, reported: Report, staff: User) -> None:
        client = client_for(staff)
        url = reverse("admin:community_report_changelist")

        assert client.get(url).status_code == 200
        response = client.post(
            url, {"action": "delete_posts", "_selected_action": [reported.pk]}, follow=True
        )

        assert response.status_code == 200
        reported.refresh_from_db()
        assert reported.resolved_at is not None
        assert Status.objects.get().deleted_at is not None

    def test_the_admin_is_staff_only(self, reported: Report, alice: User) -> None:
        response = client_for(alice).get(reverse("admin:community_report_changelist"))

        assert response.status_code == 302
