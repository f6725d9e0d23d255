"""Rate limits for views that anyone may call (public pages, feeds, OAuth endpoints), by
client address, counted in Django's cache."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

View = Callable[..., HttpResponse]


def client_address(request: HttpRequest) -> str:
    """The address of the client a request comes from. ``REMOTE_ADDR``, unless
    ``settings.TRUSTED_PROXY_HOPS`` (``KINDWAVE_TRUSTED_PROXY_HOPS``) says that many
    reverse proxies of ours stand in front: then the address the outermost of them saw,
    i.e. the n-th entry from the right of ``X-Forwarded-For`` (each proxy appends the
    address it received from; entries further left are whatever the client sent, and are
    ignored). A header with fewer entries than hops did not come through our proxies:
    ``REMOTE_ADDR`` then."""
    hops = int(getattr(settings, "TRUSTED_PROXY_HOPS", 0))
    if hops > 0:
        forwarded = [
            part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        ]
        if len(forwarded) >= hops and forwarded[-hops]:
            return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR", ""))


def rate_limited(scope: str, limit: int, window: int) -> Callable[[View], View]:
    """Refuse more than ``limit`` requests per ``window`` seconds from one client
    (:func:`client_address`) to the views sharing ``scope``, with 429 and ``Retry-After``,
    counted in Django's cache (per process unless ``CACHES`` says otherwise, as the JSON
    API's throttle). The address is only part of a cache key, never logged."""

    def decorate(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            now = int(time.time())
            slot = now // window
            key = f"kindwave:rate:{scope}:{client_address(request)}:{slot}"
            cache.add(key, 0, timeout=window + 1)
            try:
                count = cache.incr(key)
            except ValueError:  # evicted between add and incr: count this one afresh
                cache.set(key, 1, timeout=window + 1)
                count = 1
            if count > limit:
                response = HttpResponse(
                    _("Too many requests: try again in a minute."),
                    status=429,
                    content_type="text/plain; charset=utf-8",
                )
                response["Retry-After"] = str((slot + 1) * window - now)
                return response
            return view(request, *args, **kwargs)

        return wrapped

    return decorate
