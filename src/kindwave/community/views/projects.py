"""The community's projects pages (routes listed in ``urlpatterns``)."""

from django.urls import URLPattern

urlpatterns: list[URLPattern] = []
