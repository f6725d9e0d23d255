"""A small valid catalogue, and ways to break it one rule at a time."""

from __future__ import annotations

MINIMAL = """\
[catalog]
market = "GB"
currency = "GBP"
version = "v1"
effective_from = 2026-01-01T00:00:00Z
host_network = "234-30"
tax_mode = "inclusive"
vat_rate = 0.20

[[destinations]]
code = "national"
kind = "national"
name = { en = "UK landlines", fr = "Fixes au Royaume-Uni" }
prefixes = ["+44"]

[[destinations]]
code = "mobile"
kind = "mobile"
name = { en = "UK mobiles", fr = "Mobiles au Royaume-Uni" }
prefixes = ["+447"]

[[destinations]]
code = "world"
kind = "international"
name = { en = "Abroad", fr = "International" }
prefixes = ["+"]

[[destinations]]
code = "emergency"
kind = "short_code"
name = { en = "Emergency", fr = "Urgences" }
prefixes = ["999", "112"]

[[roaming_zones]]
code = "home"
kind = "home"
name = { en = "UK", fr = "Royaume-Uni" }
mcc = ["234", "235"]

[[roaming_zones]]
code = "eu"
kind = "roam_like_at_home"
name = { en = "EU", fr = "UE" }
mcc = ["208", "262"]

[[roaming_zones]]
code = "world"
kind = "rest_of_world"
name = { en = "World", fr = "Monde" }

[roaming_zones.prices]
voice_out_per_minute = 1.50
voice_in_per_minute = 0.75
sms_out = 0.40
sms_in = 0
data_per_mb = 1.00

[[plans]]
code = "gb-payg"
kind = "payg"
name = { en = "Pay as you go", fr = "Sans forfait" }
monthly_fee = 0
call_minimum_seconds = 60
call_increment_seconds = 1

[plans.rates]
data_per_mb = 0.10
voice_per_minute = { national = 0.20, mobile = 0.20, world = 1.00, emergency = 0 }
sms_per_message = { national = 0.10, mobile = 0.10, world = 0.30, emergency = 0 }

[[plans]]
code = "gb-bundle"
kind = "bundle"
name = { en = "Bundle", fr = "Forfait" }
monthly_fee = 10.00
call_minimum_seconds = 0
call_increment_seconds = 1

[plans.allowances]
minutes = 500
sms = "unlimited"
data_mb = 8192
covers = ["national", "mobile"]

[plans.rates]
data_per_mb = 0.05
voice_per_minute = { national = 0.20, mobile = 0.20, world = 1.00, emergency = 0 }
sms_per_message = { national = 0.10, mobile = 0.10, world = 0.30, emergency = 0 }
"""


def changed(old: str, new: str, text: str = MINIMAL) -> str:
    """``text`` with exactly one occurrence of ``old`` replaced (the test's one change)."""
    assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
    return text.replace(old, new)
