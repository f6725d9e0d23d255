"""The subscriber's billing pages, under ``/me/``."""

from django.urls import path

from kindwave.billing import views, views_carrier

app_name = "billing"
urlpatterns = [
    path("bills/", views.bill_list, name="bills"),
    path("bills/<str:number>/", views.bill_detail, name="bill"),
    path("bills/<str:number>/pdf/", views.bill_pdf, name="bill_pdf"),
    path("giving/", views.giving, name="giving"),
    path("carrier-billing/", views_carrier.carrier_billing, name="carrier_billing"),
]
