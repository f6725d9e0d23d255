"""``kindwave community trim-timelines [--cap N] [--after-account ID] [--quiet]``: keep only
the newest entries of every home timeline (800, as Mastodon; older pages are read from
the posts themselves). Run it periodically (hourly, from cron or a systemd timer); each
batch of homes is its own transaction, so it can be stopped at any point and run again;
re-running removes nothing more."""

from __future__ import annotations

from argparse import _SubParsersAction
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext as _

from kindwave.community.models import Account
from kindwave.community.services import timelines
from kindwave.lib.progress import progress_bar


def add_parser(actions: _SubParsersAction) -> None:
    parser = actions.add_parser(
        "trim-timelines", help="keep only the newest entries of every home timeline"
    )
    parser.add_argument(
        "--cap", type=int, default=None, help=f"entries kept per home ({timelines.HOME_CAP})"
    )
    parser.add_argument(
        "--after-account", type=int, default=0, help="start after this account id (resume)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def handle(command: BaseCommand, options: dict[str, Any]) -> None:
    cap = options["cap"]
    if cap is not None and cap < 1:
        raise CommandError(_("--cap must be at least 1."))
    after = options["after_account"]
    homes = Account.objects.filter(pk__gt=after).count()
    with progress_bar(_("Trimming home timelines"), homes, "homes", options["quiet"]) as bar:
        removed = timelines.trim_homes(
            cap=cap, after_account=after, on_batch=lambda _last, batch, _removed: bar.advance(batch)
        )
    command.stdout.write(
        _("%(removed)s entries removed from %(homes)s home timelines.")
        % {"removed": f"{removed:,}", "homes": f"{homes:,}"}
    )
