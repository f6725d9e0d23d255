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
    ],
)
def test_bad_values_fail_loud_with_the_variable_name(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(env)
