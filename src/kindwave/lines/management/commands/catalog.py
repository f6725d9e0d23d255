"""``kindwave catalog load FILE [--dry-run]`` and ``kindwave catalog list [MARKET]``."""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.translation import gettext as _

from kindwave.lines import selectors, services
from kindwave.lines.catalog_format import CatalogDocument, InvalidCatalogError, PlanSpec
from kindwave.lines.models import Market


def _allowance(value: int | None, unit: str) -> str:
    return _("unlimited") + f" {unit}" if value is None else f"{value:,} {unit}"


def _plan_line(plan: PlanSpec, document: CatalogDocument) -> str:
    fee = document.monthly_fee_minor[plan.code] / 100
    terms = (
        ", ".join(
            (
                _allowance(plan.allowances.minutes, _("min")),
                _allowance(plan.allowances.sms, _("SMS")),
                _allowance(plan.allowances.data_mb, _("MB")),
            )
        )
        if plan.allowances is not None
        else _("pay as you go")
    )
    return (
        f"  {plan.code:<16} {fee:>8.2f} {document.header.currency}/"
        + _("month")
        + f"  {plan.name.en} / {plan.name.fr}: {terms}"
    )


class Command(BaseCommand):
    help = "Load a plan catalogue file (TOML, see docs/catalogue.md) or list loaded versions."

    def add_arguments(self, parser: ArgumentParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True, metavar="{load,list}")
        load = actions.add_parser(
            "load", help="check a catalogue file and load it as a new version"
        )
        load.add_argument("file", type=Path, help="the catalogue file (.toml)")
        load.add_argument("--dry-run", action="store_true", help="check everything, load nothing")
        listing = actions.add_parser("list", help="list the loaded catalogue versions")
        listing.add_argument("market", nargs="?", help="GB, FR or US (default: all)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "load":
            self._load(options["file"], dry_run=options["dry_run"])
        else:
            self._list(options.get("market"))

    def _load(self, path: Path, dry_run: bool) -> None:
        try:
            result = services.load_catalog_file(path, dry_run=dry_run)
        except InvalidCatalogError as error:
            count = len(error.issues)
            lines = [
                _("%(file)s: %(count)s problem(s); nothing was loaded:")
                % {"file": path, "count": count}
            ]
            lines += [f"  {issue}" for issue in error.issues]
            raise CommandError("\n".join(lines)) from None
        document = result.document
        header = document.header
        if result.status == "already_loaded":
            self.stdout.write(
                _("%(market)s catalogue %(version)s is already loaded (same file); nothing to do.")
                % {"market": result.market, "version": result.version}
            )
            return
        verb = _("is valid and would load as") if result.status == "checked" else _("Loaded")
        prefixes = sum(len(item.prefixes) for item in document.destinations)
        mccs = sum(len(zone.mcc) for zone in document.roaming_zones)
        summary = [
            f"{path.name} {verb} "
            + _("%(market)s catalogue %(version)s, in force from %(when)s")
            % {
                "market": header.market,
                "version": header.version,
                "when": header.effective_from.isoformat(),
            },
            "  "
            + _(
                "%(currency)s, host network %(plmn)s, prices %(tax)s VAT at %(rate)s; "
                "%(classes)s destination classes (%(prefixes)s prefixes), %(zones)s roaming "
                "zones (%(mccs)s MCCs)"
            )
            % {
                "currency": header.currency,
                "plmn": header.host_network,
                "tax": _("include") if header.tax_mode == "inclusive" else _("exclude"),
                "rate": header.vat_rate,
                "classes": len(document.destinations),
                "prefixes": prefixes,
                "zones": len(document.roaming_zones),
                "mccs": mccs,
            },
            _("  %(count)s plans:") % {"count": len(document.plans)},
            *(_plan_line(plan, document) for plan in document.plans),
            f"  sha256 {result.sha256}",
        ]
        self.stdout.write("\n".join(summary), self.style.SUCCESS)

    def _list(self, market_code: str | None) -> None:
        markets = Market.objects.all()
        if market_code:
            markets = markets.filter(code=market_code.upper())
            if not markets.exists():
                raise CommandError(
                    _("No catalogue has been loaded for %(market)s.") % {"market": market_code}
                )
        now = timezone.now()
        for market in markets:
            in_force = selectors.catalog_in_force(market, now)
            self.stdout.write(f"{market.code} ({market.currency}, {market.host_plmn})")
            for version in selectors.catalog_versions(market):
                marker = "*" if in_force is not None and version.pk == in_force.pk else " "
                plans = ", ".join(version.plans.order_by("position").values_list("code", flat=True))
                self.stdout.write(
                    f" {marker} {version.version:<12} {version.effective_from.isoformat():<26} "
                    f"{version.source_sha256[:12]}  {plans}"
                )
        self.stdout.write(_("* = in force now"))
