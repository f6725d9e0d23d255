from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

from kindwave.accounts.views import set_language
from kindwave.api import api

admin.site.site_header = "Kindwave — staff"
admin.site.site_title = "Kindwave staff"

urlpatterns = [
    path("", include("kindwave.web.urls")),
    path("accounts/", include("kindwave.accounts.urls")),
    path("causes/", include("kindwave.causes.urls")),
    path("me/", include("kindwave.lines.urls")),
    path("me/", include("kindwave.usage.urls")),
    path("me/", include("kindwave.billing.urls")),
    path("transparency/", include("kindwave.causes.transparency_urls")),
    path("community/", include("kindwave.community.urls")),
    path("", include("kindwave.community.mastodon.urls")),
    # Kindwave's own JSON API; /api/v1 and /api/v2 are kept for the Mastodon-compatible API.
    path("api/kindwave/v1/", api.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("admin/", admin.site.urls),
]
if settings.DEBUG:
    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
