from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebConfig(AppConfig):
    """The web shell: public pages, the demo operator and the server command (no models)."""

    name = "kindwave.web"
    verbose_name = _("Web")
