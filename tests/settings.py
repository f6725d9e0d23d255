"""Settings for the test suite: the real settings, with a throw-away secret key.

Tests run with DEBUG off (Django forces it), as production does.
"""

import os

os.environ.setdefault("KINDWAVE_SECRET_KEY", "test-only-secret-key-never-used-in-production")
os.environ.setdefault("KINDWAVE_TIME_ZONE", "Europe/London")

from kindwave.settings import *  # noqa: F403

# No collectstatic before tests: serve static files from the apps, unhashed.
STORAGES = {
    **STORAGES,  # noqa: F405
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
