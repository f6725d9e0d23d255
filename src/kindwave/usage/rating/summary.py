"""What one rating run reports (kept free of heavy imports: the web imports it)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class RatingSummary:
    cycle: str
    engine: str
    records: int = 0
    rated: int = 0
    unrated: Counter[str] = field(default_factory=Counter)  # by reason
    charge_units: dict[str, int] = field(default_factory=dict)  # by currency
    warnings: list[str] = field(default_factory=list)
    lines: int = 0
    seconds: float = 0.0

    @property
    def unrated_total(self) -> int:
        return sum(self.unrated.values())

    @property
    def records_per_second(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0

    def charges(self) -> dict[str, Decimal]:
        """Total charges per currency, exact, in major units."""
        from kindwave.usage.rating.cycles import units_to_decimal

        return {currency: units_to_decimal(units) for currency, units in self.charge_units.items()}
