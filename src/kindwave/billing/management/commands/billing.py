"""``kindwave billing …``: the billing jobs operator staff run.

Each subcommand lives in its own module of :mod:`kindwave.billing.cli` (``run``,
``pledge``, ``payments``, ``dunning``, ``carrier``…) with two functions:
``add_parser(actions)`` registers it and ``handle(command, options)`` runs it.
"""

from __future__ import annotations

from kindwave.billing import cli
from kindwave.lib.subcommands import SubcommandsCommand


class Command(SubcommandsCommand):
    help = "Bill runs, the profit pledge, payments, carrier billing and dunning."
    package = cli
