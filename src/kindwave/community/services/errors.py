"""The one error the community's services raise for a refused request."""

from __future__ import annotations


class CommunityError(Exception):
    """A request the community refuses; ``message`` is translated and safe to show the user.
    Nothing has been written when it is raised."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
