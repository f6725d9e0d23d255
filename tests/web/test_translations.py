"""Every string of the interface is translated into French, and none is left out."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

import kindwave

PACKAGE = Path(kindwave.__file__).resolve().parent
FRENCH = PACKAGE / "locale" / "fr" / "LC_MESSAGES" / "django.po"


def msgids(path: Path) -> set[str]:
    with path.open("rb") as handle:
        return {str(m.id if isinstance(m.id, str) else m.id[0]) for m in read_po(handle) if m.id}


def test_every_french_entry_is_translated_and_not_fuzzy() -> None:
    with FRENCH.open("rb") as handle:
        catalog = read_po(handle)

    missing = [
        message.id
        for message in catalog
        if message.id
        and (
            message.fuzzy
            or not message.string
            or (isinstance(message.string, tuple) and not all(message.string))
        )
    ]

    assert catalog.plural_forms == "nplurals=2; plural=(n > 1);"
    assert missing == []


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext (xgettext)")
def test_the_catalogue_holds_every_string_of_the_code(tmp_path: Path) -> None:
    # Extract afresh from a copy of the package and compare: a string added to a template or
    # to the code without being translated fails here.
    copy = tmp_path / "kindwave"
    shutil.copytree(PACKAGE, copy, ignore=shutil.ignore_patterns("__pycache__", "*.mo"))
    subprocess.run(
        [sys.executable, "-m", "django", "makemessages", "-l", "fr", "--ignore", "simulator/*"],
        cwd=copy,
        check=True,
        capture_output=True,
        env={"DJANGO_SETTINGS_MODULE": "tests.settings", "PATH": "/usr/bin:/bin"}
        | {"PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )

    extracted = msgids(copy / "locale" / "fr" / "LC_MESSAGES" / "django.po")

    assert sorted(extracted - msgids(FRENCH)) == []
