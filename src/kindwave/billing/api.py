"""The subscriber's bills in Kindwave's JSON API (to be written)."""

from ninja import Router

router = Router(tags=["bills"])
