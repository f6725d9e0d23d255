from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class BillingConfig(AppConfig):
    name = "kindwave.billing"
    verbose_name = _("Billing")

    def ready(self) -> None:
        from kindwave.billing.services.billrun import rating_closed_by_billing
        from kindwave.usage import services as usage

        usage.close_cycles_when(rating_closed_by_billing)
