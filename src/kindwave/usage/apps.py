from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "kindwave.usage"
    verbose_name = "Usage"
