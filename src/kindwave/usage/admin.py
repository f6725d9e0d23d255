"""Read-only admin pages: staff see the manifest, the quarantine and the cells, and
change them only through the ``kindwave usage`` commands."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from kindwave.usage.models import Cell, QuarantinedRecord, UsageFile


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(UsageFile)
class UsageFileAdmin(ReadOnlyAdmin):
    list_display = (
        "name",
        "market",
        "status",
        "file_hour",
        "records",
        "accepted",
        "duplicates",
        "quarantined",
        "processed_at",
    )
    list_filter = ("status", "market")
    list_select_related = ("market",)
    search_fields = ("name", "sha256")


@admin.register(QuarantinedRecord)
class QuarantinedRecordAdmin(ReadOnlyAdmin):
    list_display = ("file", "line", "position_kind", "reason", "message", "created_at")
    list_filter = ("reason",)
    list_select_related = ("file",)
    search_fields = ("file__name", "message")


@admin.register(Cell)
class CellAdmin(ReadOnlyAdmin):
    list_display = ("cell_id", "site_id", "zone_id", "lat", "lon")
    search_fields = ("cell_id", "site_id", "zone_id")


# The rating's pages live beside the rating code; importing registers them.
from kindwave.usage.rating import admin as rating_admin  # noqa: E402

__all__ = ["ReadOnlyAdmin", "rating_admin"]
