"""The Mastodon-compatible client API: OAuth 2, request parsing, entities and endpoints.

Unmodified Mastodon clients (Mastodon.py, toot, phone apps) talk to the community through
it; see ``docs/mastodon-api.md``.
"""
