"""``kindwave serve``: run the platform with uvicorn (ASGI); static files via WhiteNoise."""

from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser


class Command(BaseCommand):
    help = "Serve Kindwave over HTTP (uvicorn). Use a reverse proxy for TLS in production."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=1)

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        if not settings.DEBUG:
            # Hashed, compressed static files for WhiteNoise; fast when nothing changed.
            call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"Kindwave is serving on http://{host}:{port}/  (Ctrl+C to stop)")
        uvicorn.run(
            "kindwave.asgi:application",
            host=host,
            port=port,
            workers=workers,
            log_level="warning",
            # Access logs would record URLs, which can hold personal data (tokens, ids).
            access_log=False,
        )
