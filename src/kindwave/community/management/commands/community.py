"""``kindwave community …``: the community's jobs (see :mod:`kindwave.community.cli`)."""

from __future__ import annotations

from kindwave.community import cli
from kindwave.lib.subcommands import SubcommandsCommand


class Command(SubcommandsCommand):
    help = "The community's jobs (Gift Aid export, card donations' reconciliation)."
    package = cli
