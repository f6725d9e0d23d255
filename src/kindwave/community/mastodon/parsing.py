"""Request parsing shared by every Mastodon endpoint, and Mastodon's error shape.

Clients send parameters in the query string, as a form (``application/x-www-form-urlencoded``
or multipart) or as JSON; arrays as ``key[]=a&key[]=b`` (or a JSON list), booleans as
``true``/``false``/``1``/``0``. :class:`Params` reads all of them the same way.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpRequest, JsonResponse, QueryDict
from django.utils.datastructures import MultiValueDict

_TRUE = {"true", "1", "on", "yes"}
_FALSE = {"false", "0", "off", "no", ""}


class MastodonError(Exception):
    """An error answered as Mastodon does: ``{"error": message}`` with an HTTP status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message

    def response(self) -> JsonResponse:
        return JsonResponse({"error": self.message}, status=self.status)


class Params:
    """The parameters of one request: the query string, then the body (form or JSON)."""

    def __init__(self, request: HttpRequest) -> None:
        self._lists: dict[str, list[Any]] = {}
        #: Uploaded files of a multipart body (media, avatars), by field name.
        self.files: MultiValueDict = MultiValueDict()
        for key in request.GET:
            self._lists[key] = request.GET.getlist(key)
        if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
            return
        content_type = request.content_type or ""
        if content_type == "application/json":
            self._read_json(request.body)
            return
        form: QueryDict
        if content_type == "application/x-www-form-urlencoded":
            # Django parses a form only for POST; PUT, PATCH and DELETE bring theirs too.
            form = request.POST if request.method == "POST" else QueryDict(request.body)
        elif content_type == "multipart/form-data":
            if request.method == "POST":
                form, self.files = request.POST, request.FILES
            else:
                # The request is a readable stream of its body (Django's own use).
                form, self.files = request.parse_file_upload(request.META, request)  # type: ignore[arg-type]
        else:
            return
        for key in form:
            self._lists[key] = form.getlist(key)

    def _read_json(self, body: bytes) -> None:
        if not body.strip():
            return
        try:
            data = json.loads(body)
        except (UnicodeDecodeError, ValueError):
            raise MastodonError(422, "The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise MastodonError(422, "The request body must be a JSON object")
        for key, value in data.items():
            self._lists[key] = value if isinstance(value, list) else [value]

    def _values(self, name: str) -> list[Any]:
        return self._lists.get(f"{name}[]", self._lists.get(name, []))

    def __contains__(self, name: str) -> bool:
        return bool(self._values(name))

    def get(self, name: str, default: str | None = None) -> str | None:
        values = self._values(name)
        if not values or values[-1] is None:
            return default
        value = values[-1]
        if isinstance(value, (dict, list)):
            raise MastodonError(422, f"{name}: expected a single value")
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)

    def get_list(self, name: str) -> list[str]:
        """``name[]`` repeated, ``name`` repeated, or a JSON list, as strings."""
        values = self._values(name)
        if any(isinstance(value, (dict, list)) for value in values):
            raise MastodonError(422, f"{name}: expected a list of values")
        return [str(value) for value in values if value is not None]

    def get_bool(self, name: str, default: bool = False) -> bool:
        values = self._values(name)
        if not values or values[-1] is None:
            return default
        value = values[-1]
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise MastodonError(422, f"{name}: expected true or false")

    def get_int(
        self, name: str, default: int | None = None, *, minimum: int | None = None
    ) -> int | None:
        value = self.get(name)
        if value is None or value == "":
            return default
        try:
            number = int(value)
        except ValueError:
            raise MastodonError(422, f"{name}: expected a whole number") from None
        if minimum is not None and number < minimum:
            raise MastodonError(422, f"{name}: must be at least {minimum}")
        return number
