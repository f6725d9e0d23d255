"""The public transparency pages and the public ledger feed, under ``/transparency/``."""

from django.urls import path  # noqa: F401 - filled in by the transparency pages

app_name = "transparency"
urlpatterns: list = []
