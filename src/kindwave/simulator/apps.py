from django.apps import AppConfig


class SimulatorConfig(AppConfig):
    """A tool rather than a bounded context: no models, one management command."""

    name = "kindwave.simulator"
    verbose_name = "Simulator"
