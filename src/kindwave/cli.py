"""The ``kindwave`` console command.

Every job is a Django management command, so ``kindwave X …`` is ``manage.py X …``:
``kindwave catalog load FILE``, ``kindwave simulate …``, ``kindwave demo``,
``kindwave serve``, ``kindwave migrate``. ``kindwave help`` lists them all.
"""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kindwave.settings")
    from django.core.management import execute_from_command_line

    args = list(sys.argv if argv is None else argv)
    args[0] = "kindwave"
    execute_from_command_line(args)


if __name__ == "__main__":
    main()
