"""The community's pages, under ``/community/``."""

from django.urls import path  # noqa: F401 - filled in by the community pages

app_name = "community"
urlpatterns: list = []
