"""Loading catalogue versions: all or nothing, idempotent, never rewritten; the command."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from kindwave.lines import selectors, services
from kindwave.lines.catalog_format import InvalidCatalogError
from kindwave.lines.models import (
    CatalogVersion,
    DestinationPrefix,
    Market,
    Plan,
    PlanRate,
    RoamingZoneCountry,
)

from .catalog_samples import MINIMAL, changed

pytestmark = pytest.mark.django_db

V2 = changed('version = "v1"', 'version = "v2"')
V2 = changed(
    "effective_from = 2026-01-01T00:00:00Z", "effective_from = 2026-04-01T00:00:00+01:00", V2
)
V2 = changed("monthly_fee = 10.00", "monthly_fee = 11.50", V2)


def catalogue_rows() -> tuple[int, ...]:
    return (
        Market.objects.count(),
        CatalogVersion.objects.count(),
        Plan.objects.count(),
        PlanRate.objects.count(),
        DestinationPrefix.objects.count(),
        RoamingZoneCountry.objects.count(),
    )


class TestLoadCatalog:
    def test_loads_everything_in_the_file(self) -> None:
        result = services.load_catalog(MINIMAL, source_name="gb.toml")
        assert result.status == "loaded"
        catalog = CatalogVersion.objects.get()
        assert (catalog.market.code, catalog.version, catalog.currency) == ("GB", "v1", "GBP")
        assert catalog.market.host_plmn == "234-30"
        assert catalog.source_text == MINIMAL
        assert catalog.source_sha256 == result.sha256
        assert catalog.vat_rate == Decimal("0.2000")
        bundle = catalog.plans.get(code="gb-bundle")
        assert (bundle.monthly_fee_minor, bundle.currency) == (1000, "GBP")
        assert (bundle.included_minutes, bundle.included_sms, bundle.included_data_mb) == (
            500,
            None,
            8192,
        )
        assert sorted(bundle.allowance_covers.values_list("code", flat=True)) == [
            "mobile",
            "national",
        ]
        rate = bundle.rates.get(destination_class__code="world")
        assert rate.voice_per_minute == Decimal("1.00")
        assert rate.sms_per_message == Decimal("0.30")
        payg = catalog.plans.get(code="gb-payg")
        assert (payg.included_minutes, payg.call_minimum_seconds) == (0, 60)
        assert catalogue_rows() == (1, 1, 2, 8, 5, 4)

    def test_identical_file_again_is_a_no_op(self) -> None:
        services.load_catalog(MINIMAL)
        before = catalogue_rows()
        result = services.load_catalog(MINIMAL)
        assert result.status == "already_loaded"
        assert catalogue_rows() == before

    def test_changed_file_under_a_loaded_version_is_refused(self) -> None:
        services.load_catalog(MINIMAL)
        before = catalogue_rows()
        with pytest.raises(InvalidCatalogError) as caught:
            services.load_catalog(changed("monthly_fee = 10.00", "monthly_fee = 9.00"))
        [issue] = caught.value.issues
        assert issue.path == "catalog.version"
        assert "already loaded from a different file" in issue.message
        assert catalogue_rows() == before
        assert Plan.objects.get(code="gb-bundle").monthly_fee_minor == 1000

    def test_a_price_change_is_a_new_version_and_the_old_one_is_kept(self) -> None:
        services.load_catalog(MINIMAL)
        result = services.load_catalog(V2)
        assert result.status == "loaded"
        fees = dict(
            Plan.objects.filter(code="gb-bundle").values_list(
                "catalog__version", "monthly_fee_minor"
            )
        )
        assert fees == {"v1": 1000, "v2": 1150}
        before, after = (
            datetime(2026, 3, 31, 22, 59, tzinfo=UTC),
            datetime(2026, 3, 31, 23, tzinfo=UTC),
        )
        assert selectors.catalog_in_force("GB", before).version == "v1"  # type: ignore[union-attr]
        assert selectors.catalog_in_force("GB", after).version == "v2"  # type: ignore[union-attr]

    @pytest.mark.parametrize(
        "effective_from",
        ["2026-01-01T00:00:00Z", "2025-12-31T00:00:00Z", "2026-01-01T01:00:00+01:00"],
    )
    def test_a_new_version_must_take_effect_later(self, effective_from: str) -> None:
        services.load_catalog(MINIMAL)
        text = changed(
            "effective_from = 2026-04-01T00:00:00+01:00", f"effective_from = {effective_from}", V2
        )
        with pytest.raises(InvalidCatalogError) as caught:
            services.load_catalog(text)
        [issue] = caught.value.issues
        assert issue.path == "catalog.effective_from"
        assert issue.message.startswith("must be later than 2026-01-01T00:00:00+00:00")
        assert CatalogVersion.objects.count() == 1

    def test_the_host_network_of_a_market_cannot_move(self) -> None:
        services.load_catalog(MINIMAL)
        text = changed('host_network = "234-30"', 'host_network = "234-15"', V2)
        with pytest.raises(InvalidCatalogError) as caught:
            services.load_catalog(text)
        assert [issue.path for issue in caught.value.issues] == ["catalog.host_network"]

    def test_an_invalid_file_loads_nothing(self) -> None:
        with pytest.raises(InvalidCatalogError):
            services.load_catalog(changed("monthly_fee = 10.00", "monthly_fee = 10.001"))
        assert catalogue_rows() == (0, 0, 0, 0, 0, 0)

    def test_a_failure_while_storing_rolls_everything_back(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        def explode(*args: object, **kwargs: object) -> None:
            raise RuntimeError("disk full")

        monkeypatch.setattr(PlanRate.objects, "bulk_create", explode)
        with pytest.raises(RuntimeError):
            services.load_catalog(MINIMAL)
        assert catalogue_rows() == (0, 0, 0, 0, 0, 0)

    def test_dry_run_checks_against_the_database_and_writes_nothing(self) -> None:
        assert services.load_catalog(MINIMAL, dry_run=True).status == "checked"
        assert catalogue_rows() == (0, 0, 0, 0, 0, 0)
        services.load_catalog(MINIMAL)
        with pytest.raises(InvalidCatalogError):
            services.load_catalog(
                changed("monthly_fee = 10.00", "monthly_fee = 9.00"), dry_run=True
            )

    def test_demo_catalogues_load_once(self) -> None:
        results = services.load_demo_catalogs()
        assert [result.status for result in results] == ["loaded"] * 3
        assert sorted(Market.objects.values_list("code", "currency", "host_mcc", "host_mnc")) == [
            ("FR", "EUR", "208", "01"),
            ("GB", "GBP", "234", "30"),
            ("US", "USD", "310", "120"),
        ]
        assert [result.status for result in services.load_demo_catalogs()] == ["already_loaded"] * 3
        assert CatalogVersion.objects.count() == 3

    def test_file_that_is_not_utf8(self, tmp_path: Path) -> None:
        path = tmp_path / "latin1.toml"
        path.write_bytes(MINIMAL.replace("Fixes", "Fixés").encode("latin-1"))
        with pytest.raises(InvalidCatalogError) as caught:
            services.load_catalog_file(path)
        assert caught.value.issues[0].message.startswith("not UTF-8 text")


class TestCatalogCommand:
    def test_load_prints_a_summary(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str]
    ) -> None:
        path = tmp_path / "gb.toml"
        path.write_text(MINIMAL, "utf-8")
        call_command("catalog", "load", str(path))
        out = capsys.readouterr().out
        assert "Loaded GB catalogue v1, in force from 2026-01-01T00:00:00+00:00" in out
        assert "gb-bundle" in out
        assert "10.00 GBP/month" in out
        call_command("catalog", "load", str(path))
        assert "already loaded (same file); nothing to do" in capsys.readouterr().out

    def test_dry_run(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        path = tmp_path / "gb.toml"
        path.write_text(MINIMAL, "utf-8")
        call_command("catalog", "load", str(path), "--dry-run")
        assert "is valid and would load as GB catalogue v1" in capsys.readouterr().out
        assert CatalogVersion.objects.count() == 0

    def test_load_lists_every_problem(self, tmp_path: Path) -> None:
        path = tmp_path / "bad.toml"
        text = changed("data_mb = 8192", 'data_mb = "lots"')
        path.write_text(changed('currency = "GBP"', 'currency = "EUR"', text), "utf-8")
        with pytest.raises(CommandError) as caught:
            call_command("catalog", "load", str(path))
        assert str(caught.value).splitlines() == [
            f"{path}: 2 problem(s); nothing was loaded:",
            "  catalog.currency: GB prices must be in GBP, not EUR",
            '  plans[1].allowances.data_mb: must be a whole number ≥ 0 or "unlimited"',
        ]

    def test_list(self, capsys: pytest.CaptureFixture[str]) -> None:
        services.load_catalog(MINIMAL)
        services.load_catalog(V2)
        call_command("catalog", "list")
        out = capsys.readouterr().out
        assert "GB (GBP, 234-30)" in out
        assert "v1" in out
        assert "v2" in out

    def test_the_command_line_exits_non_zero_on_error(self, tmp_path: Path) -> None:
        path = tmp_path / "broken.toml"
        path.write_text("[catalog\n", "utf-8")
        env = {**os.environ, "KINDWAVE_DEBUG": "true", "KINDWAVE_DATA_DIR": str(tmp_path)}
        completed = subprocess.run(
            [sys.executable, "-m", "kindwave.cli", "catalog", "--skip-checks", "load", str(path)],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert completed.returncode == 1
        assert "line 1, column 9: TOML syntax error" in completed.stderr
