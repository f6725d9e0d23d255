"""One typed, fail-loud loader for every setting Kindwave reads from the environment.

Every setting is a ``KINDWAVE_*`` variable (plus the conventional ``DATABASE_URL``).
A value that does not parse stops the process at start-up with the variable's
name and the reason, rather than running with a silently wrong default.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


class ConfigError(Exception):
    """A setting in the environment is missing or malformed."""


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}

# Only used outside production: a fixed key would let anyone forge sessions.
INSECURE_DEV_SECRET = "kindwave-insecure-development-key-do-not-use-in-production"  # noqa: S105


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name}={raw!r}: expected one of true/false, 1/0, yes/no, on/off")


def _int(env: Mapping[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a whole number") from None
    if value < minimum:
        raise ConfigError(f"{name}={raw!r}: must be at least {minimum}")
    return value


def _percent(env: Mapping[str, str], name: str, default: int) -> int:
    value = _int(env, name, default)
    if value > 100:
        raise ConfigError(f"{name}={value}: a percentage is at most 100")
    return value


def _list(env: Mapping[str, str], name: str, default: list[str]) -> list[str]:
    raw = env.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


@dataclass(frozen=True)
class Config:
    debug: bool
    secret_key: str
    data_dir: Path
    database_url: str
    allowed_hosts: list[str]
    csrf_trusted_origins: list[str]
    time_zone: str
    email_backend: str
    default_from_email: str
    site_url: str
    login_failure_limit: int
    login_cooloff_minutes: int
    host_network_plmn: str
    # Billing (docs/billing-rules.md): days to pay, dunning steps in days after the due
    # date, the operator's cap on carrier billing per month (minor units, any currency),
    # the causes' share of net telecom charges (percent), the payout threshold (minor
    # units) and the profit pledge (share, base "profit" or "revenue", allocation rule).
    payment_terms_days: int = 14
    reminder_after_days: int = 3
    suspend_after_days: int = 14
    carrier_billing_cap_minor: int = 24_000
    carrier_reservation_minutes: int = 30
    cause_share_percent: int = 10
    payout_threshold_minor: int = 5_000
    pledge_share_percent: int = 25
    pledge_base: str = "profit"
    pledge_rule: str = "subscribers"
    # The card processor (docs/billing-payments.md): its base URL (https, or http to this
    # machine for a local test double) and secret API key; empty: card payments are off.
    card_provider_url: str = ""
    card_provider_key: str = ""
    # How many reverse proxies of ours stand in front of the app: the public pages' rate
    # limits then take the client's address from X-Forwarded-For (0: REMOTE_ADDR).
    trusted_proxy_hops: int = 0
    # Mastodon-compatible API: how long an OAuth access token lives, in days (0: never, as
    # Mastodon), and how many /oauth/token requests one client address may make a minute.
    oauth_token_days: int = 0
    oauth_token_rate_per_minute: int = 30
    # Where home timelines live (docs/community.md, "Home timelines in Redis"): a
    # redis:// (rediss://, unix://) URL; empty: in the database.
    redis_url: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "kindwave.sqlite3"


def load_config(env: Mapping[str, str] | None = None) -> Config:
    """Read and validate the whole configuration; raise ConfigError on the first bad value."""
    env = os.environ if env is None else env
    debug = _bool(env, "KINDWAVE_DEBUG", default=False)

    secret_key = env.get("KINDWAVE_SECRET_KEY", "")
    if not secret_key:
        if not debug:
            raise ConfigError(
                "KINDWAVE_SECRET_KEY is required when KINDWAVE_DEBUG is off "
                "(set KINDWAVE_DEBUG=true for a local demo)"
            )
        secret_key = INSECURE_DEV_SECRET
    elif len(secret_key) < 32:
        raise ConfigError("KINDWAVE_SECRET_KEY: must be at least 32 characters long")

    data_dir = Path(env.get("KINDWAVE_DATA_DIR", "var")).expanduser().resolve()
    database_url = env.get("DATABASE_URL") or f"sqlite:///{data_dir / 'kindwave.sqlite3'}"
    if not database_url.startswith(("sqlite:", "postgres:", "postgresql:", "postgis:")):
        raise ConfigError(
            f"DATABASE_URL={database_url!r}: only sqlite:// and postgres:// are supported"
        )

    time_zone = env.get("KINDWAVE_TIME_ZONE", "Europe/London")
    try:
        ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"KINDWAVE_TIME_ZONE={time_zone!r}: not an IANA time zone") from None

    email_backend = {
        "console": "django.core.mail.backends.console.EmailBackend",
        "smtp": "django.core.mail.backends.smtp.EmailBackend",
        "memory": "django.core.mail.backends.locmem.EmailBackend",
        "file": "django.core.mail.backends.filebased.EmailBackend",
    }.get(env.get("KINDWAVE_EMAIL_BACKEND", "console"))
    if email_backend is None:
        raise ConfigError("KINDWAVE_EMAIL_BACKEND: expected one of console, smtp, memory, file")

    plmn = env.get("KINDWAVE_HOST_NETWORK_PLMN", "234-15")
    parts = plmn.split("-")
    if len(parts) != 2 or not (
        len(parts[0]) == 3 and parts[0].isdigit() and len(parts[1]) in (2, 3) and parts[1].isdigit()
    ):
        raise ConfigError(f"KINDWAVE_HOST_NETWORK_PLMN={plmn!r}: expected MCC-MNC, e.g. 234-15")

    site_url = env.get("KINDWAVE_SITE_URL", "http://127.0.0.1:8000").rstrip("/")
    pledge_base = env.get("KINDWAVE_PLEDGE_BASE", "profit")
    if pledge_base not in ("profit", "revenue"):
        raise ConfigError(f"KINDWAVE_PLEDGE_BASE={pledge_base!r}: expected profit or revenue")
    pledge_rule = env.get("KINDWAVE_PLEDGE_RULE", "subscribers")
    if pledge_rule not in ("subscribers", "shares"):
        raise ConfigError(f"KINDWAVE_PLEDGE_RULE={pledge_rule!r}: expected subscribers or shares")
    suspend_after = _int(env, "KINDWAVE_SUSPEND_AFTER_DAYS", 14, minimum=1)
    reminder_after = _int(env, "KINDWAVE_REMINDER_AFTER_DAYS", 3, minimum=0)
    if reminder_after >= suspend_after:
        raise ConfigError(
            f"KINDWAVE_REMINDER_AFTER_DAYS={reminder_after}: must come before "
            f"KINDWAVE_SUSPEND_AFTER_DAYS={suspend_after}"
        )
    card_provider_url = env.get("KINDWAVE_CARD_PROVIDER_URL", "").rstrip("/")
    if card_provider_url and not card_provider_url.startswith(
        ("https://", "http://127.0.0.1", "http://localhost")
    ):
        raise ConfigError(
            f"KINDWAVE_CARD_PROVIDER_URL={card_provider_url!r}: must be https:// "
            "(plain http only to 127.0.0.1 or localhost)"
        )
    redis_url = env.get("KINDWAVE_REDIS_URL", "").strip()
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(
            "KINDWAVE_REDIS_URL: expected a redis://, rediss:// or unix:// URL (the value is "
            "not repeated: it may hold a password)"
        )
    return Config(
        debug=debug,
        secret_key=secret_key,
        data_dir=data_dir,
        database_url=database_url,
        allowed_hosts=_list(env, "KINDWAVE_ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"]),
        csrf_trusted_origins=_list(env, "KINDWAVE_CSRF_TRUSTED_ORIGINS", []),
        time_zone=time_zone,
        email_backend=email_backend,
        default_from_email=env.get("KINDWAVE_FROM_EMAIL", "Kindwave <hello@kindwave.invalid>"),
        site_url=site_url,
        login_failure_limit=_int(env, "KINDWAVE_LOGIN_FAILURE_LIMIT", 5, minimum=1),
        login_cooloff_minutes=_int(env, "KINDWAVE_LOGIN_COOLOFF_MINUTES", 15, minimum=1),
        host_network_plmn=plmn,
        payment_terms_days=_int(env, "KINDWAVE_PAYMENT_TERMS_DAYS", 14, minimum=0),
        reminder_after_days=reminder_after,
        suspend_after_days=suspend_after,
        carrier_billing_cap_minor=_int(env, "KINDWAVE_CARRIER_BILLING_CAP_MINOR", 24_000),
        carrier_reservation_minutes=_int(
            env, "KINDWAVE_CARRIER_RESERVATION_MINUTES", 30, minimum=1
        ),
        cause_share_percent=_percent(env, "KINDWAVE_CAUSE_SHARE_PERCENT", 10),
        payout_threshold_minor=_int(env, "KINDWAVE_PAYOUT_THRESHOLD_MINOR", 5_000, minimum=1),
        pledge_share_percent=_percent(env, "KINDWAVE_PLEDGE_SHARE_PERCENT", 25),
        pledge_base=pledge_base,
        pledge_rule=pledge_rule,
        card_provider_url=card_provider_url,
        redis_url=redis_url,
        card_provider_key=env.get("KINDWAVE_CARD_PROVIDER_KEY", ""),
        trusted_proxy_hops=_int(env, "KINDWAVE_TRUSTED_PROXY_HOPS", 0),
        oauth_token_days=_int(env, "KINDWAVE_OAUTH_TOKEN_DAYS", 0),
        oauth_token_rate_per_minute=_int(
            env, "KINDWAVE_OAUTH_TOKEN_RATE_PER_MINUTE", 30, minimum=1
        ),
    )
