"""The plan catalogue file: TOML parsed with ``tomllib``, checked with pydantic and rules.

Pure: no database. ``parse_catalog(text)`` returns a ``CatalogDocument`` or raises
``InvalidCatalogError`` listing *every* problem found, each with its key path
(``plans[2].allowances.data_mb``, list indexes counted from 0) — or the TOML syntax
error with its line and column. The format is documented in ``docs/catalogue.md``.

Numbers with a decimal point are read as exact ``Decimal`` (never floats): monthly fees
become integer minor units, per-unit prices stay exact decimals in major units.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from kindwave.lines.models import CURRENCY_EXPONENTS, RATE_PLACES, Market
from kindwave.lines.validators import COUNTRY_CALLING_CODES

MAX_PRICE = Decimal(10_000)
MAX_SECONDS = 3_600
UNLIMITED = "unlimited"

# --- Problems ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class CatalogIssue:
    """One problem with a catalogue file, located by key path (and line for syntax errors)."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None

    def __str__(self) -> str:
        if self.line is not None:
            return _("line %(line)s, column %(column)s: %(message)s") % {
                "line": self.line,
                "column": self.column,
                "message": self.message,
            }
        return f"{self.path}: {self.message}"


class InvalidCatalogError(Exception):
    """The catalogue cannot be loaded; ``issues`` lists every reason found."""

    def __init__(self, issues: Sequence[CatalogIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def format_path(location: Sequence[str | int]) -> str:
    """``("plans", 2, "allowances", "data_mb")`` → ``plans[2].allowances.data_mb``."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part == "[key]":
            continue  # pydantic's marker for "the key itself" of a table; the key is named already
        else:
            text += f".{part}" if text else str(part)
    return text


# --- Field types, each with the message an operator needs to fix the file -----------------------


def _fail(message: str) -> PydanticCustomError:
    # No str.format placeholders in our messages: braces would be read as template fields.
    return PydanticCustomError("kindwave", message.replace("{", "(").replace("}", ")"))


def _number(value: Any) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise _fail(_("must be a number, e.g. 0.25"))
    number = Decimal(value)
    if not number.is_finite():
        raise _fail(_("must be a finite number"))
    return number


def _price(value: Any) -> Decimal:
    number = _number(value)
    if number < 0:
        raise _fail(_("must not be negative"))
    if number > MAX_PRICE:
        raise _fail(_("must not be more than %(max)s") % {"max": MAX_PRICE})
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > RATE_PLACES:
        raise _fail(_("must have at most %(places)s decimal places") % {"places": RATE_PLACES})
    return number


def _fee(value: Any) -> Decimal:
    number = _number(value)
    if number < 0:
        raise _fail(_("must not be negative"))
    if number > MAX_PRICE:
        raise _fail(_("must not be more than %(max)s") % {"max": MAX_PRICE})
    return number


def _rate(value: Any) -> Decimal:
    number = _number(value)
    if not Decimal(0) <= number < 1:
        raise _fail(_("must be a fraction from 0 to under 1, e.g. 0.20 for 20 %"))
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        raise _fail(_("must have at most 4 decimal places"))
    return number


def _allowance(value: Any) -> int | None:
    if value == UNLIMITED:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise _fail(_('must be a whole number ≥ 0 or "unlimited"'))
    return value


def _seconds(minimum: int) -> Callable[[Any], int]:
    def check(value: Any) -> int:
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not (minimum <= value <= MAX_SECONDS)
        ):
            raise _fail(
                _("must be a whole number of seconds from %(min)s to %(max)s")
                % {"min": minimum, "max": MAX_SECONDS}
            )
        return value

    return check


def _instant(value: Any) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise _fail(
                _("must include a time zone offset, e.g. 2026-01-01T00:00:00Z or …T00:00:00+01:00")
            )
        return value
    if isinstance(value, date):
        raise _fail(_("must be a date and time with a time zone offset, not just a date"))
    raise _fail(_("must be an unquoted TOML date-time with offset, e.g. 2026-01-01T00:00:00Z"))


def _pattern(regex: str, message: str | Promise) -> Callable[[Any], str]:
    compiled = re.compile(regex)

    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise _fail(_("must be a string (in quotes)"))
        if not compiled.fullmatch(value):
            raise _fail(str(message))
        return value

    return check


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise _fail(_("must be a string (in quotes)"))
    if not value.strip():
        raise _fail(_("must not be empty"))
    if len(value) > 100:
        raise _fail(_("must be at most 100 characters"))
    return value.strip()


Price = Annotated[Decimal, BeforeValidator(_price)]
Fee = Annotated[Decimal, BeforeValidator(_fee)]
VatRate = Annotated[Decimal, BeforeValidator(_rate)]
Allowance = Annotated[int | None, BeforeValidator(_allowance)]
Instant = Annotated[datetime, BeforeValidator(_instant)]
Text = Annotated[str, BeforeValidator(_text)]
Code = Annotated[
    str,
    BeforeValidator(
        _pattern(
            r"[a-z0-9][a-z0-9-]{0,39}",
            gettext_lazy(
                "must be lower-case letters, digits and dashes (at most 40), e.g. intl-europe"
            ),
        )
    ),
]
VersionLabel = Annotated[
    str,
    BeforeValidator(
        _pattern(
            r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}",
            gettext_lazy(
                "must be letters, digits, dots, dashes or underscores (at most 40), e.g. 2026-01"
            ),
        )
    ),
]
Plmn = Annotated[
    str,
    BeforeValidator(_pattern(r"[0-9]{3}-[0-9]{2,3}", gettext_lazy("must be MCC-MNC, e.g. 234-30"))),
]
Mcc = Annotated[
    str,
    BeforeValidator(_pattern(r"[0-9]{3}", gettext_lazy("must be a 3-digit mobile country code"))),
]
Prefix = Annotated[
    str,
    BeforeValidator(
        _pattern(
            r"\+?[0-9]{0,15}",
            gettext_lazy(
                'must be "+" and up to 15 digits (e.g. "+447"), or digits only for a short code'
            ),
        )
    ),
]


class _Table(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LocalisedName(_Table):
    en: Text
    fr: Text


class Header(_Table):
    market: Literal["GB", "FR", "US"]
    currency: Literal["GBP", "EUR", "USD"]
    version: VersionLabel
    effective_from: Instant
    host_network: Plmn
    tax_mode: Literal["inclusive", "exclusive"]
    vat_rate: VatRate
    description: str = ""


DestinationKind = Literal["national", "mobile", "international", "premium", "free", "short_code"]


class Destination(_Table):
    code: Code
    kind: DestinationKind
    name: LocalisedName
    prefixes: list[Prefix]


class RoamingPrices(_Table):
    voice_out_per_minute: Price
    voice_in_per_minute: Price
    sms_out: Price
    sms_in: Price
    data_per_mb: Price


class RoamingZoneSpec(_Table):
    code: Code
    kind: Literal["home", "roam_like_at_home", "priced", "rest_of_world"]
    name: LocalisedName
    mcc: list[Mcc] = Field(default_factory=list)
    prices: RoamingPrices | None = None


class Allowances(_Table):
    minutes: Allowance
    sms: Allowance
    data_mb: Allowance
    covers: list[Code]


class Rates(_Table):
    voice_per_minute: dict[Code, Price]
    sms_per_message: dict[Code, Price]
    data_per_mb: Price


class PlanSpec(_Table):
    code: Code
    kind: Literal["bundle", "payg"]
    name: LocalisedName
    monthly_fee: Fee
    call_minimum_seconds: Annotated[int, BeforeValidator(_seconds(0))]
    call_increment_seconds: Annotated[int, BeforeValidator(_seconds(1))]
    allowances: Allowances | None = None
    rates: Rates


@dataclass(frozen=True)
class CatalogDocument:
    """A catalogue file that passed every check, ready to be stored."""

    header: Header
    destinations: list[Destination]
    roaming_zones: list[RoamingZoneSpec]
    plans: list[PlanSpec]
    monthly_fee_minor: Mapping[str, int]


# --- Messages for pydantic's own error types ----------------------------------------------


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    context = error.get("ctx") or {}
    if kind == "kindwave":
        return str(error["msg"])
    if kind == "missing":
        return _("is required")
    if kind == "extra_forbidden":
        return _("unknown key (misspelt?)")
    if kind == "literal_error":
        return _("must be one of %(expected)s") % {"expected": context.get("expected", "")}
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return _("must be a table")
    if kind in ("list_type", "tuple_type"):
        return _("must be an array")
    if kind == "string_type":
        return _("must be a string (in quotes)")
    return str(error["msg"])


ModelT = TypeVar("ModelT", bound=BaseModel)


class _Checker:
    """Collects issues while the file is validated piece by piece."""

    def __init__(self) -> None:
        self.issues: list[CatalogIssue] = []

    def add(self, location: Sequence[str | int], message: str) -> None:
        self.issues.append(CatalogIssue(format_path(location), message))

    def validate(
        self, model: type[ModelT], value: Any, location: Sequence[str | int]
    ) -> ModelT | None:
        try:
            return TypeAdapter(model).validate_python(value)
        except ValidationError as error:
            for item in error.errors():
                self.add([*location, *item["loc"]], _describe(item))
            return None

    def table_array(
        self, raw: Mapping[str, Any], key: str, model: type[ModelT]
    ) -> tuple[list[ModelT | None], list[Any]]:
        """Validate each table of the array ``key``; returns the parsed items (None where
        invalid) and the raw items."""
        items = raw.get(key)
        if items is None:
            self.add([key], _("is required (at least one [[%(key)s]] table)") % {"key": key})
            return [], []
        if not isinstance(items, list) or not items:
            self.add([key], _("must be a non-empty array of tables ([[%(key)s]])") % {"key": key})
            return [], []
        return [self.validate(model, item, [key, index]) for index, item in enumerate(items)], items


def _raw_codes(items: Sequence[Any]) -> list[str | None]:
    return [
        item.get("code") if isinstance(item, dict) and isinstance(item.get("code"), str) else None
        for item in items
    ]


def _duplicates(checker: _Checker, key: str, codes: Sequence[str | None], what: str) -> None:
    seen: dict[str, int] = {}
    for index, code in enumerate(codes):
        if code is None:
            continue
        if code in seen:
            checker.add(
                [key, index, "code"],
                _("duplicate %(what)s code %(code)s (also %(other)s)")
                % {"what": what, "code": code, "other": f"{key}[{seen[code]}]"},
            )
        else:
            seen[code] = index


def to_minor_units(amount: Decimal, currency: str) -> int | None:
    """``10.99`` GBP → 1099; None if the amount has sub-minor-unit precision (10.995)."""
    minor = amount.scaleb(CURRENCY_EXPONENTS[currency])
    return int(minor) if minor == minor.to_integral_value() else None


# --- The whole file ----------------------------------------------------------------------------

_TOML_POSITION = re.compile(r"\(at line (\d+), column (\d+)\)")
_TOP_LEVEL = ("catalog", "destinations", "roaming_zones", "plans")
_HOME_KINDS = frozenset({"national", "mobile", "premium", "free"})


def parse_catalog(text: str) -> CatalogDocument:
    """Parse and check a whole catalogue file; raise ``InvalidCatalogError`` with every issue."""
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        position = _TOML_POSITION.search(message)
        line, column = (int(position[1]), int(position[2])) if position else (None, None)
        raise InvalidCatalogError(
            [
                CatalogIssue(
                    "(syntax)",
                    _("TOML syntax error: %(message)s")
                    % {"message": _TOML_POSITION.sub("", message).strip()},
                    line,
                    column,
                )
            ]
        ) from None

    checker = _Checker()
    for key in raw:
        if key not in _TOP_LEVEL:
            checker.add(
                [key], _("unknown key (expected %(keys)s)") % {"keys": ", ".join(_TOP_LEVEL)}
            )
    # First every field on its own (pydantic), then the rules that tie fields together.
    # The rules read the raw file defensively, so that one bad field does not hide the
    # problems of its neighbours.
    header: Header | None = None
    raw_header: Any = raw.get("catalog")
    if raw_header is None:
        checker.add(["catalog"], _("is required (a [catalog] table)"))
    else:
        header = checker.validate(Header, raw_header, ["catalog"])
    destinations, raw_destinations = checker.table_array(raw, "destinations", Destination)
    zones, raw_zones = checker.table_array(raw, "roaming_zones", RoamingZoneSpec)
    plans, raw_plans = checker.table_array(raw, "plans", PlanSpec)

    market = _get(raw_header, "market", Literal["GB", "FR", "US"])
    currency = _get(raw_header, "currency", Literal["GBP", "EUR", "USD"])
    host_network = _get(raw_header, "host_network", Plmn)
    host_mcc = host_network.split("-")[0] if host_network else None
    _check_header(checker, market, currency, host_mcc)
    destination_codes = _raw_codes(raw_destinations)
    _duplicates(checker, "destinations", destination_codes, _("destination class"))
    _check_prefixes(checker, market, raw_destinations)
    _duplicates(checker, "roaming_zones", _raw_codes(raw_zones), _("roaming zone"))
    _check_zones(checker, host_mcc, raw_zones)
    _duplicates(checker, "plans", _raw_codes(raw_plans), _("plan"))
    defined = {code for code in destination_codes if code is not None}
    fees: dict[str, int] = {}
    for index, raw_plan in enumerate(raw_plans):
        if isinstance(raw_plan, dict):
            fee = _check_plan(checker, index, raw_plan, defined, currency or "GBP")
            if fee is not None and isinstance(raw_plan.get("code"), str):
                fees[raw_plan["code"]] = fee

    if checker.issues:
        raise InvalidCatalogError(sorted(checker.issues, key=lambda issue: _path_key(issue.path)))
    assert header is not None  # noqa: S101 — no issues means every part parsed
    return CatalogDocument(
        header=header,
        destinations=[item for item in destinations if item is not None],
        roaming_zones=[item for item in zones if item is not None],
        plans=[item for item in plans if item is not None],
        monthly_fee_minor=fees,
    )


def _path_key(path: str) -> list[tuple[int, int, str]]:
    """Sort key following the file: sections in file order, ``plans[10]`` after ``plans[9]``."""
    parts = [part for part in re.split(r"[.\[\]]+", path) if part]
    section = _TOP_LEVEL.index(parts[0]) if parts and parts[0] in _TOP_LEVEL else -1
    return [(0, section, "")] + [
        (1, int(part), "") if part.isdigit() else (0, 0, part) for part in parts[1:]
    ]


def _valid(annotation: Any, value: Any) -> Any:
    """``value`` validated as ``annotation``, or None if it is not valid (already reported)."""
    try:
        return TypeAdapter(annotation).validate_python(value)
    except ValidationError:
        return None


def _get(table: Any, key: str, annotation: Any) -> Any:
    if not isinstance(table, dict) or key not in table:
        return None
    return _valid(annotation, table[key])


def _items(table: Any, key: str) -> list[tuple[int, Any]]:
    values = table.get(key) if isinstance(table, dict) else None
    return list(enumerate(values)) if isinstance(values, list) else []


def _check_header(
    checker: _Checker, market: str | None, currency: str | None, host_mcc: str | None
) -> None:
    if market is None:
        return
    expected = Market.CURRENCIES[market]
    if currency is not None and currency != expected:
        checker.add(
            ["catalog", "currency"],
            _("%(market)s prices must be in %(expected)s, not %(currency)s")
            % {"market": market, "expected": expected, "currency": currency},
        )
    mccs = Market.MCCS[market]
    if host_mcc is not None and host_mcc not in mccs:
        checker.add(
            ["catalog", "host_network"],
            _("MCC %(mcc)s is not a mobile country code of %(market)s (expected %(mccs)s)")
            % {"mcc": host_mcc, "market": market, "mccs": ", ".join(sorted(mccs))},
        )


def _check_prefixes(checker: _Checker, market: str | None, raw_destinations: Sequence[Any]) -> None:
    home = "+" + COUNTRY_CALLING_CODES[market] if market is not None else None
    owner: dict[str, tuple[int, int]] = {}  # prefix → (destination index, prefix index)
    codes = _raw_codes(raw_destinations)
    for d_index, destination in enumerate(raw_destinations):
        kind = _get(destination, "kind", DestinationKind)
        if isinstance(destination, dict) and destination.get("prefixes") == []:
            checker.add(["destinations", d_index, "prefixes"], _("must list at least one prefix"))
        for p_index, raw_prefix in _items(destination, "prefixes"):
            prefix = _valid(Prefix, raw_prefix)
            if prefix is None:
                continue
            location: list[str | int] = ["destinations", d_index, "prefixes", p_index]
            if kind == "short_code":
                if not prefix or prefix.startswith("+"):
                    checker.add(location, _('short codes are digits only, without "+"'))
                    continue
            elif not prefix.startswith("+"):
                checker.add(location, _('must start with "+" (only short codes have no "+")'))
                continue
            elif prefix == "+" and kind != "international":
                checker.add(
                    location,
                    _('"+" alone (any number) is only allowed in an international class'),
                )
                continue
            elif kind in _HOME_KINDS and home is not None and not prefix.startswith(home):
                checker.add(
                    location,
                    _("a %(kind)s prefix must start with the country code %(home)s")
                    % {"kind": kind, "home": home},
                )
                continue
            if prefix in owner:
                other_d, other_p = owner[prefix]
                checker.add(
                    location,
                    _("duplicate prefix %(prefix)s (already in class %(code)s at %(path)s)")
                    % {
                        "prefix": prefix,
                        "code": codes[other_d] or "?",
                        "path": f"destinations[{other_d}].prefixes[{other_p}]",
                    },
                )
                continue
            owner[prefix] = (d_index, p_index)
    # Longest prefix wins, so a prefix whose nearest shorter prefix is of the same class
    # changes nothing: it is a mistake (a class meant otherwise) or dead weight.
    for prefix, (d_index, p_index) in owner.items():
        for length in range(len(prefix) - 1, 0, -1):
            parent = owner.get(prefix[:length])
            if parent is None:
                continue
            if parent[0] == d_index:
                checker.add(
                    ["destinations", d_index, "prefixes", p_index],
                    _("overlaps %(parent)s of the same class, which already covers it")
                    % {"parent": prefix[:length]},
                )
            break


_ZoneKind = Literal["home", "roam_like_at_home", "priced", "rest_of_world"]


def _check_zones(checker: _Checker, host_mcc: str | None, raw_zones: Sequence[Any]) -> None:
    seen: dict[str, int] = {}
    counts = {"home": 0, "rest_of_world": 0}
    complete = True
    for index, zone in enumerate(raw_zones):
        kind = _get(zone, "kind", _ZoneKind)
        if kind is None:
            complete = False
            continue
        if kind in counts:
            counts[kind] += 1
        mccs = [(m_index, _valid(Mcc, value)) for m_index, value in _items(zone, "mcc")]
        has_prices = "prices" in zone
        if kind == "rest_of_world" and mccs:
            checker.add(
                ["roaming_zones", index, "mcc"],
                _("the rest-of-the-world zone takes every MCC not listed elsewhere: list none"),
            )
        if kind != "rest_of_world" and not mccs:
            checker.add(["roaming_zones", index, "mcc"], _("must list at least one MCC"))
        if kind in ("priced", "rest_of_world") and not has_prices:
            checker.add(
                ["roaming_zones", index, "prices"],
                _("is required for a %(kind)s zone") % {"kind": kind},
            )
        if kind in ("home", "roam_like_at_home") and has_prices:
            checker.add(
                ["roaming_zones", index, "prices"],
                _("must not be given: a %(kind)s zone is rated at the plan's home prices")
                % {"kind": kind},
            )
        if kind == "home" and host_mcc is not None and host_mcc not in {m for _i, m in mccs}:
            checker.add(
                ["roaming_zones", index, "mcc"],
                _("the home zone must include the host network's MCC %(mcc)s") % {"mcc": host_mcc},
            )
        for m_index, mcc in mccs:
            if mcc is None:
                continue
            if mcc in seen:
                checker.add(
                    ["roaming_zones", index, "mcc", m_index],
                    _("MCC %(mcc)s is already in zone %(path)s")
                    % {"mcc": mcc, "path": f"roaming_zones[{seen[mcc]}]"},
                )
            else:
                seen[mcc] = index
    if complete and raw_zones:
        for kind, count in counts.items():
            if count != 1:
                checker.add(
                    ["roaming_zones"],
                    _("exactly one zone of kind %(kind)s is required, found %(count)s")
                    % {"kind": kind, "count": count},
                )


def _check_plan(
    checker: _Checker, index: int, plan: Mapping[str, Any], defined: set[str], currency: str
) -> int | None:
    location: list[str | int] = ["plans", index]
    kind = _get(plan, "kind", Literal["bundle", "payg"])
    monthly_fee = _get(plan, "monthly_fee", Fee)
    fee = to_minor_units(monthly_fee, currency) if monthly_fee is not None else None
    if monthly_fee is not None and fee is None:
        checker.add(
            [*location, "monthly_fee"],
            _(
                "%(fee)s has more decimal places than %(currency)s has minor units "
                "(at most %(places)s)"
            )
            % {"fee": monthly_fee, "currency": currency, "places": CURRENCY_EXPONENTS[currency]},
        )
    allowances = plan.get("allowances")
    if kind == "bundle" and allowances is None:
        checker.add([*location, "allowances"], _("is required for a bundle"))
    if kind == "payg":
        if allowances is not None:
            checker.add([*location, "allowances"], _("a pay-as-you-go plan has no allowances"))
        if monthly_fee is not None and monthly_fee != 0:
            checker.add(
                [*location, "monthly_fee"], _("a pay-as-you-go plan has no monthly fee (0)")
            )
    if isinstance(allowances, dict) and allowances.get("covers") == []:
        checker.add(
            [*location, "allowances", "covers"], _("must name at least one destination class")
        )
    for c_index, code in _items(allowances, "covers"):
        if isinstance(code, str) and code not in defined:
            checker.add(
                [*location, "allowances", "covers", c_index],
                _("destination class %(code)s is not defined in [[destinations]]") % {"code": code},
            )
    rates = plan.get("rates")
    for service in ("voice_per_minute", "sms_per_message"):
        prices = rates.get(service) if isinstance(rates, dict) else None
        if not isinstance(prices, dict):
            continue
        for code in prices:
            if code not in defined:
                checker.add(
                    [*location, "rates", service, code],
                    _("destination class %(code)s is not defined in [[destinations]]")
                    % {"code": code},
                )
        missing = sorted(defined - prices.keys())
        if missing:
            checker.add(
                [*location, "rates", service],
                _("no price for destination class(es) %(codes)s (every class needs one; 0 is free)")
                % {"codes": ", ".join(missing)},
            )
    return fee
