"""Only the admin: the ledger's admin tests run whatever state the site's other pages are in."""

from django.contrib import admin
from django.urls import path

urlpatterns = [path("admin/", admin.site.urls)]
