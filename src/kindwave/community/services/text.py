"""A post's text made into safe HTML, and its length counted as Mastodon counts it.

Everything the author typed is escaped; only the links, mentions and hashtags we recognise
become markup. Mentions link local accounts only (this is a single-server network);
``@someone`` who has no account here stays plain text.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from html import escape

from django.conf import settings

from kindwave.community.models import Account

#: A link counts as this many characters, whatever its length (Mastodon's rule).
URL_CHARS = 23

# A link does not end with the punctuation that follows it in a sentence (closing quotes
# and brackets included).
_URL = r"https?://[^\s<>\"'\u00a0]+[^\s<>\"'\u00a0.,;:!?)\]}\u00bb\u201d\u2019]"
_MENTION = r"(?<![\w/\\@])@([a-zA-Z0-9_]{1,30})(?![\w@])"
# A hashtag is word characters with at least one letter (``#2026`` is not a tag), so that
# ``#écologie`` and ``#水`` are tags; not inside a URL or a word (``a#b``).
_HASHTAG = r"(?<![\w/&#)])#(\w*[^\W\d]\w*)"
_TOKENS = re.compile(f"(?P<url>{_URL})|{_MENTION}|{_HASHTAG}")
_MENTION_ONLY = re.compile(_MENTION)
_HASHTAG_ONLY = re.compile(_HASHTAG)
_URL_ONLY = re.compile(_URL)

TAG_MAX = 100


@dataclass(frozen=True)
class Rendered:
    html: str
    mentions: list[Account]
    tags: list[str]


def account_url(username: str) -> str:
    """The public address of a local account's profile (the community's ``/@username``)."""
    return f"{settings.SITE_URL.rstrip('/')}/community/@{username}"


def tag_url(name: str) -> str:
    """The public address of a hashtag's timeline (the community's ``/tags/name``)."""
    return f"{settings.SITE_URL.rstrip('/')}/community/tags/{name}"


def normalise_tag(name: str) -> str:
    """A hashtag's stored name: NFC, lower-case (``#Écologie`` and ``#écologie`` are one)."""
    return unicodedata.normalize("NFC", name).lower()


def mentioned_usernames(text: str) -> list[str]:
    """The ``@usernames`` in ``text``, lower-cased, in order, without repeats."""
    return list(dict.fromkeys(m.group(1).lower() for m in _MENTION_ONLY.finditer(text)))


def _graphemes(text: str) -> int:
    # Mastodon counts grapheme clusters. Without a segmentation library we count code
    # points after NFC, leaving out those that never stand alone: combining marks,
    # variation selectors, emoji modifiers and anything joined by a zero-width joiner.
    count = 0
    joined = False
    for char in unicodedata.normalize("NFC", text):
        if joined:
            joined = False
            continue
        if char == "\u200d":
            joined = True
            continue
        if (
            unicodedata.combining(char)
            or "\ufe00" <= char <= "\ufe0f"
            or "\U0001f3fb" <= char <= "\U0001f3ff"
        ):
            continue
        count += 1
    return count


def status_length(text: str, spoiler_text: str = "") -> int:
    """The length Mastodon gives a post: its text and content warning together, each link
    counting ``URL_CHARS``."""
    return _graphemes(_URL_ONLY.sub("x" * URL_CHARS, text)) + _graphemes(spoiler_text)


def _link(url: str) -> str:
    shown = re.sub(r"^https?://(www\.)?", "", url)
    if len(shown) > 30:
        shown = shown[:30] + "…"
    return (
        f'<a href="{escape(url)}" rel="nofollow noopener" target="_blank" translate="no">'
        f"{escape(shown)}</a>"
    )


def _paragraphs(html: str) -> str:
    blocks = [block for block in re.split(r"\n\s*\n", html.strip()) if block.strip()]
    return "".join(f"<p>{block.strip().replace(chr(10), '<br />')}</p>" for block in blocks)


def render(text: str) -> Rendered:
    """``text`` as HTML (escaped; links, mentions of local accounts and hashtags marked up;
    paragraphs and line breaks kept), with the accounts it mentions and its tag names."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    usernames = mentioned_usernames(_URL_ONLY.sub(" ", text))
    by_name = {
        account.username.lower(): account
        for account in (Account.objects.filter(username__in=usernames) if usernames else [])
    }
    # ``username__in`` is case-sensitive on PostgreSQL; usernames are stored lower-case.
    mentions: dict[int, Account] = {}
    tags: dict[str, None] = {}
    pieces: list[str] = []
    position = 0
    for match in _TOKENS.finditer(text):
        pieces.append(escape(text[position : match.start()]))
        position = match.end()
        if match.group("url"):
            pieces.append(_link(match.group("url")))
        elif match.group(2) is not None:
            account = by_name.get(match.group(2).lower())
            if account is None:
                pieces.append(escape(match.group(0)))
                continue
            mentions[account.pk] = account
            href = escape(account_url(account.username))
            pieces.append(
                f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">'
                f"@<span>{escape(account.username)}</span></a></span>"
            )
        else:
            name = normalise_tag(match.group(3))
            if len(name) > TAG_MAX:
                pieces.append(escape(match.group(0)))
                continue
            tags[name] = None
            pieces.append(
                f'<a href="{escape(tag_url(name))}" class="mention hashtag" rel="tag">'
                f"#<span>{escape(match.group(3))}</span></a>"
            )
    pieces.append(escape(text[position:]))
    return Rendered(
        html=_paragraphs("".join(pieces)), mentions=list(mentions.values()), tags=list(tags)
    )
