"""Mastodon's id-based pagination, for any queryset ordered by an integer id column.

``max_id`` (older than), ``since_id`` (newer than, newest first), ``min_id`` (newer than,
the oldest of those first: a client catching up) and ``limit``; the page is always
returned newest first, with a ``Link`` header: ``rel="next"`` (older) first, then
``rel="prev"`` (newer). The home timeline pages on ``TimelineEntry.status_id``, the public
one on ``Status.id``: the column (a field of the model itself) is a parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypedDict, TypeVar
from urllib.parse import urlencode

from django.db.models import Model, QuerySet
from django.http import HttpRequest

from kindwave.community.mastodon.parsing import MastodonError, Params

M = TypeVar("M", bound=Model)

DEFAULT_LIMIT = 20
MAX_LIMIT = 40


@dataclass(frozen=True)
class Page(Generic[M]):
    items: list[M]
    ids: list[int]
    link: str | None

    def apply(self, response: Any) -> Any:
        """Set the ``Link`` header on ``response`` (when there is anything to link to)."""
        if self.link:
            response["Link"] = self.link
        return response


def _id(params: Params, name: str) -> int | None:
    value = params.get(name)
    if value is None or value == "":
        return None
    try:
        return int(value)
    except ValueError:
        # Mastodon ids are strings of digits; anything else matches nothing before or after.
        raise MastodonError(422, f"{name}: expected an id") from None


def paginate(
    request: HttpRequest,
    queryset: QuerySet[M],
    *,
    id_field: str = "id",
    default_limit: int = DEFAULT_LIMIT,
    max_limit: int = MAX_LIMIT,
) -> Page[M]:
    """One page of ``queryset`` by ``id_field`` as the request's ``max_id``, ``since_id``,
    ``min_id`` and ``limit`` ask (a limit above ``max_limit`` is capped, as Mastodon does),
    newest first, with its ``Link`` header. Runs one query."""
    asked = page_request(request, default_limit=default_limit, max_limit=max_limit)
    limit, max_id, since_id, min_id = asked.limit, asked.max_id, asked.since_id, asked.min_id
    if max_id is not None:
        queryset = queryset.filter(**{f"{id_field}__lt": max_id})
    if since_id is not None:
        queryset = queryset.filter(**{f"{id_field}__gt": since_id})
    if min_id is not None:
        rows = list(queryset.filter(**{f"{id_field}__gt": min_id}).order_by(id_field)[:limit])
        rows.reverse()
    else:
        rows = list(queryset.order_by(f"-{id_field}")[:limit])
    ids = [int(getattr(row, id_field)) for row in rows]
    return Page(items=rows, ids=ids, link=_link(request, ids))


class Bounds(TypedDict):
    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int


@dataclass(frozen=True)
class PageRequest:
    """What a request asks of a list served by a selector: its bounds and its size."""

    max_id: int | None
    since_id: int | None
    min_id: int | None
    limit: int

    def bounds(self) -> Bounds:
        """The keyword arguments the community's selectors take."""
        return {
            "max_id": self.max_id,
            "since_id": self.since_id,
            "min_id": self.min_id,
            "limit": self.limit,
        }


def page_request(
    request: HttpRequest, *, default_limit: int = DEFAULT_LIMIT, max_limit: int = MAX_LIMIT
) -> PageRequest:
    """The request's ``max_id``, ``since_id``, ``min_id`` and ``limit`` (capped at
    ``max_limit``), read as :func:`paginate` reads them, for a selector that pages itself."""
    params = Params(request)
    limit = params.get_int("limit", default_limit, minimum=1) or default_limit
    return PageRequest(
        max_id=_id(params, "max_id"),
        since_id=_id(params, "since_id"),
        min_id=_id(params, "min_id"),
        limit=min(limit, max_limit),
    )


def link_header(request: HttpRequest, ids: list[int]) -> str | None:
    """The ``Link`` header of a page whose ids are ``ids`` (newest first)."""
    return _link(request, ids)


def _link(request: HttpRequest, ids: list[int]) -> str | None:
    if not ids:
        return None
    base = request.build_absolute_uri(request.path)
    kept = [
        (key, value)
        for key in request.GET
        if key not in ("max_id", "since_id", "min_id")
        for value in request.GET.getlist(key)
    ]
    next_url = f"{base}?{urlencode([*kept, ('max_id', ids[-1])])}"
    prev_url = f"{base}?{urlencode([*kept, ('min_id', ids[0])])}"
    return f'<{next_url}>; rel="next", <{prev_url}>; rel="prev"'
