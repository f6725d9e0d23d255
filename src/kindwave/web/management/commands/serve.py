"""``kindwave serve``: run the platform with gunicorn's sync workers (WSGI); static files
via WhiteNoise.

Why not uvicorn (ASGI): every view is synchronous, and Django under ASGI runs each
request's sync code in a thread of its own, so the request pays a thread hop and cannot
keep its database connection; a sync worker answers one request at a time in its own
process and keeps its connection (``CONN_MAX_AGE``). On the timeline benchmark
(docs/community.md, "Home timelines") two sync workers served 94 home requests/s where
two uvicorn workers served 57, on the same data in the same hour.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser
from gunicorn.app.base import BaseApplication


def default_workers() -> int:
    """gunicorn's advice, two per core plus one: a worker waiting on the database or the
    disk leaves its core to another."""
    return 2 * (os.cpu_count() or 1) + 1


class _Gunicorn(BaseApplication):
    """gunicorn run in this process on the project's WSGI application."""

    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from kindwave.wsgi import application

        return application


class Command(BaseCommand):
    help = (
        "Serve Kindwave over HTTP (gunicorn, sync workers). Use a reverse proxy for TLS "
        "and slow clients in production."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument(
            "--workers",
            type=int,
            default=default_workers(),
            help="worker processes, each answering one request at a time (default: 2 per "
            "core plus one)",
        )

    def handle(self, *args: Any, host: str, port: int, workers: int, **options: Any) -> None:
        if workers < 1:
            self.stderr.write("--workers: at least 1")
            raise SystemExit(2)
        if not settings.DEBUG:
            # Hashed, compressed static files for WhiteNoise; fast when nothing changed.
            call_command("collectstatic", interactive=False, verbosity=0)
        self.stdout.write(f"Kindwave is serving on http://{host}:{port}/  (Ctrl+C to stop)")
        _Gunicorn(
            {
                "bind": f"{host}:{port}",
                "workers": workers,
                "worker_class": "sync",
                "loglevel": "warning",
                # Access logs would record URLs, which can hold personal data (tokens, ids).
                "accesslog": None,
                # A request stuck this long is killed and its worker replaced.
                "timeout": 60,
            }
        ).run()
