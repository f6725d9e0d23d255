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


def normalise_newlines(text: str) -> str:
    """``text`` with Windows (``\\r\\n``) and old Mac (``\\r``) line ends made ``\\n``, as a
    browser's counter sees them (a form sends ``\\r\\n``)."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


# Grapheme clusters after Unicode's extended rules (UAX #29), for the characters that
# matter in posts: combining and spacing marks, emoji modifiers, variation selectors, tag
# sequences (subdivision flags), keycaps, zero-width-joiner sequences, regional-indicator
# flags and Hangul jamo. ``Prepend`` characters (a few Indic and Arabic signs) are left out.
_HANGUL_L = range(0x1100, 0x1160)
_HANGUL_V = range(0x1160, 0x11A8)
_HANGUL_T = range(0x11A8, 0x1200)


def _extends(char: str) -> bool:
    """Whether ``char`` never starts a cluster (it extends the one before)."""
    code = ord(char)
    return (
        unicodedata.category(char) in ("Mn", "Me", "Mc")
        or code == 0x200C  # zero-width non-joiner
        or 0x1F3FB <= code <= 0x1F3FF  # emoji skin tones
        or 0xE0020 <= code <= 0xE007F  # tags
    )


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Zl", "Zp")


def _is_regional(char: str) -> bool:
    return 0x1F1E6 <= ord(char) <= 0x1F1FF


def _hangul_joins(before: str, after: str) -> bool:
    b, a = ord(before), ord(after)
    syllable = 0xAC00 <= b <= 0xD7A3
    lv = syllable and (b - 0xAC00) % 28 == 0
    if b in _HANGUL_L:
        return a in _HANGUL_L or a in _HANGUL_V or 0xAC00 <= a <= 0xD7A3
    if b in _HANGUL_V or lv:
        return a in _HANGUL_V or a in _HANGUL_T
    if b in _HANGUL_T or syllable:
        return a in _HANGUL_T
    return False


def _joins(previous: str, char: str, regional_run: int) -> bool:
    """Whether ``char`` continues the cluster ``previous`` is in (``regional_run``: how
    many regional indicators end the text before it)."""
    if previous == "\r" and char == "\n":
        return True
    if not previous or _is_control(previous) or _is_control(char):
        return False
    return (
        _extends(char)
        or "\u200d" in (char, previous)
        or (_is_regional(char) and regional_run % 2 == 1)
        or _hangul_joins(previous, char)
    )


def grapheme_count(text: str) -> int:
    """The number of user-perceived characters in ``text`` (after NFC): a flag, a keycap,
    a family emoji joined by zero-width joiners or a letter with its accents is one."""
    count = 0
    previous = ""
    regional_run = 0
    for char in unicodedata.normalize("NFC", text):
        if not _joins(previous, char, regional_run):
            count += 1
        regional_run = regional_run + 1 if _is_regional(char) else 0
        previous = char
    return count


def status_length(text: str, spoiler_text: str = "") -> int:
    """The length Mastodon gives a post: its text and content warning together, each link
    counting ``URL_CHARS``, line ends counting one whatever the browser sent."""
    text = normalise_newlines(text)
    return grapheme_count(_URL_ONLY.sub("x" * URL_CHARS, text)) + grapheme_count(
        normalise_newlines(spoiler_text)
    )


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
    text = normalise_newlines(text)
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
