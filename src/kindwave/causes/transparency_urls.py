"""The public transparency pages and the public ledger feed, under ``/transparency/``."""

from django.urls import path

from kindwave.causes import views

app_name = "transparency"
urlpatterns = [
    path("", views.transparency_home, name="home"),
    path("ledger.json", views.ledger_json, name="ledger-json"),
    path("ledger.csv", views.ledger_csv, name="ledger-csv"),
]
