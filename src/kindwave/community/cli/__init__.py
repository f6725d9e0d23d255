"""The subcommands of ``kindwave community``: one module each, with ``add_parser(actions)``
and ``handle(command, options)``; a module's name with ``_`` read as ``-`` is its
subcommand (``giftaid_export`` → ``kindwave community giftaid-export``)."""
