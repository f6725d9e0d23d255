"""Money as integer minor units plus an ISO 4217 currency — never floats."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency, get_currency_precision


def minor_to_major(amount_minor: int, currency: str) -> Decimal:
    """1234 GBP pence → Decimal('12.34'), exactly."""
    return Decimal(amount_minor).scaleb(-get_currency_precision(currency))


def format_money(amount_minor: int, currency: str, language: str = "en") -> str:
    """Format for people, in their language: ``£12.34`` in English, ``12,34 £GB`` in French
    (French convention: the symbol after the amount, a comma for decimals)."""
    if language.startswith("fr"):
        locale = "fr_FR"
    else:  # English as written where the currency is at home: $25.00, £10.00, €19.99
        locale = {"USD": "en_US", "EUR": "en_IE"}.get(currency, "en_GB")
    return format_currency(minor_to_major(amount_minor, currency), currency, locale=locale)
