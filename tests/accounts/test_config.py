from __future__ import annotations

import pytest

from kindwave.config import ConfigError, load_config


def test_demo_defaults_use_sqlite_in_the_data_dir(tmp_path) -> None:
    config = load_config({"KINDWAVE_DEBUG": "true", "KINDWAVE_DATA_DIR": str(tmp_path)})

    assert config.database_url == f"sqlite:///{tmp_path / 'kindwave.sqlite3'}"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({}, "KINDWAVE_SECRET_KEY is required"),
        ({"KINDWAVE_DEBUG": "maybe"}, "KINDWAVE_DEBUG='maybe'"),
        ({"KINDWAVE_DEBUG": "1", "KINDWAVE_SECRET_KEY": "short"}, "at least 32"),
        ({"KINDWAVE_DEBUG": "1", "DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"KINDWAVE_DEBUG": "1", "KINDWAVE_TIME_ZONE": "Mars/Olympus"}, "IANA"),
        ({"KINDWAVE_DEBUG": "1", "KINDWAVE_LOGIN_FAILURE_LIMIT": "zero"}, "whole number"),
        ({"KINDWAVE_DEBUG": "1", "KINDWAVE_EMAIL_BACKEND": "pigeon"}, "EMAIL_BACKEND"),
        ({"KINDWAVE_DEBUG": "1", "KINDWAVE_CAUSE_SHARE_PERCENT": "110"}, "at most 100"),
        ({"KINDWAVE_DEBUG": "1", "KINDWAVE_PLEDGE_BASE": "turnover"}, "profit or revenue"),
        ({"KINDWAVE_DEBUG": "1", "KINDWAVE_PLEDGE_RULE": "votes"}, "subscribers or shares"),
        ({"KINDWAVE_DEBUG": "1", "KINDWAVE_PAYOUT_THRESHOLD_MINOR": "0"}, "at least 1"),
        (
            {"KINDWAVE_DEBUG": "1", "KINDWAVE_REMINDER_AFTER_DAYS": "20"},
            "must come before KINDWAVE_SUSPEND_AFTER_DAYS",
        ),
    ],
)
def test_bad_values_fail_loud_with_the_variable_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env)


def test_billing_defaults_are_the_documented_ones() -> None:
    config = load_config({"KINDWAVE_DEBUG": "true"})

    assert (config.cause_share_percent, config.pledge_share_percent) == (10, 25)
    assert (config.reminder_after_days, config.suspend_after_days) == (3, 14)
    assert (config.pledge_base, config.pledge_rule) == ("profit", "subscribers")
