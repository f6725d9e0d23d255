"""Template filters shared by every page: money and names in the reader's language."""

from __future__ import annotations

from typing import Protocol

import phonenumbers
from django import template
from django.utils.formats import number_format
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from kindwave.lib.money import format_money

register = template.Library()


class Bilingual(Protocol):
    name_en: str
    name_fr: str


@register.filter
def money(amount_minor: int | None, currency: str) -> str:
    """``{{ plan.monthly_fee_minor|money:plan.currency }}`` → ``£10.00`` / ``10,00 €``."""
    if amount_minor is None:
        return ""
    return format_money(amount_minor, currency, (get_language() or "en")[:2])


@register.filter
def localised_name(obj: Bilingual) -> str:
    """The French name for French readers, the English one otherwise."""
    return obj.name_fr if (get_language() or "en").startswith("fr") else obj.name_en


@register.filter
def data_size(megabytes: int) -> str:
    """500 → ``500 MB``; 8192 → ``8 GB`` (``Mo``/``Go`` in French)."""
    if megabytes >= 1024 and megabytes % 1024 == 0:
        return _("%(n)s GB") % {"n": megabytes // 1024}
    if megabytes >= 1024:
        return _("%(n)s GB") % {"n": number_format(round(megabytes / 1024, 1), 1)}
    return _("%(n)s MB") % {"n": megabytes}


@register.filter
def phone(msisdn: str) -> str:
    """+33612000000 → ``+33 6 12 00 00 00``: the international format people read."""
    try:
        number = phonenumbers.parse(msisdn)
    except phonenumbers.NumberParseException:
        return msisdn
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
