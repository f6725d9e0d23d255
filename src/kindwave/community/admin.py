"""The staff's view of the community: the moderation queue (reports, resolved through
``services.moderation``), and read-only lists of accounts and posts. Rows are written by
the community's services only."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from kindwave.accounts.models import User
from kindwave.community.models import Account, Report, Status, Tag
from kindwave.community.services import moderation
from kindwave.lib.admin import ReadOnlyAdmin


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["username", "kind", "display_name", "followers_count", "statuses_count"]
    list_filter = ["kind"]
    search_fields = ["username", "display_name"]


@admin.register(Status)
class StatusAdmin(ReadOnlyAdmin):
    list_display = ["pk", "account", "visibility", "created_at", "deleted_at"]
    list_filter = ["visibility"]
    list_select_related = ["account"]
    search_fields = ["account__username"]
    # Staff read posts through reports: the text of followers-only and direct posts is
    # not listed here.
    exclude = ["text", "content_html", "idempotency_key"]


@admin.register(Tag)
class TagAdmin(ReadOnlyAdmin):
    search_fields = ["name"]


@admin.register(Report)
class ReportAdmin(ReadOnlyAdmin):
    list_display = ["target", "account", "created_at", "resolved_at", "resolution"]
    list_filter = [("resolved_at", admin.EmptyFieldListFilter)]
    list_select_related = ["target", "account"]
    actions = ["dismiss", "delete_posts"]

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        # Actions need the change permission; the form itself stays read-only.
        return bool(request.user.is_staff)

    def get_readonly_fields(self, request: HttpRequest, obj: object = None) -> list[str]:
        return [field.name for field in Report._meta.fields] + ["statuses"]

    def _resolve(self, request: HttpRequest, reports: QuerySet[Report], decision: str) -> None:
        staff = request.user
        if not isinstance(staff, User):  # the admin serves signed-in staff only
            return
        for report in reports:
            moderation.resolve_report(staff, report, decision)
        count = reports.count()
        self.message_user(
            request,
            ngettext("%(count)d report resolved.", "%(count)d reports resolved.", count)
            % {"count": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Resolve: no action"))
    def dismiss(self, request: HttpRequest, reports: QuerySet[Report]) -> None:
        self._resolve(request, reports, moderation.Decision.DISMISS)

    @admin.action(description=_("Resolve: delete the reported posts"))
    def delete_posts(self, request: HttpRequest, reports: QuerySet[Report]) -> None:
        self._resolve(request, reports, moderation.Decision.DELETE_POSTS)
