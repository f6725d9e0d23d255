"""Images attached to posts: checked, re-encoded (which drops EXIF and every other
metadata: location, camera, owner), resized and given a preview, with Pillow."""

from __future__ import annotations

import io
import threading
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO

from django.core.files.base import ContentFile
from django.db import transaction
from django.utils.translation import gettext as _
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from kindwave.community.models import Account, MediaAttachment
from kindwave.community.services.errors import CommunityError

MAX_BYTES = 10 * 1024 * 1024
MAX_PIXELS = 40_000_000
MAX_SIDE = 1920
PREVIEW_SIDE = 400
MAX_DESCRIPTION = 1_500
_FORMATS = {"JPEG", "PNG", "GIF", "WEBP"}


def _size_of(file: IO[bytes]) -> int:
    size = getattr(file, "size", None)
    if isinstance(size, int):
        return size
    position = file.tell()
    file.seek(0, io.SEEK_END)
    end = file.tell()
    file.seek(position)
    return end


_STRICT = threading.Lock()


@contextmanager
def _strict_decoding() -> Iterator[None]:
    # WeasyPrint (the invoices' PDFs) turns on Pillow's process-wide LOAD_TRUNCATED_IMAGES
    # when imported; an upload must decode completely, so it is off while we decode one
    # (another thread's image decoded meanwhile is only held to the same standard).
    with _STRICT:
        saved = ImageFile.LOAD_TRUNCATED_IMAGES
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        try:
            yield
        finally:
            ImageFile.LOAD_TRUNCATED_IMAGES = saved


def _open(file: IO[bytes]) -> Image.Image:
    """The image in ``file``, fully checked, or ``CommunityError``."""
    refused = CommunityError(_("This file is not an image we accept (JPEG, PNG, GIF or WebP)."))
    too_large = CommunityError(
        _("This image is too large: at most %(mp)d megapixels.") % {"mp": MAX_PIXELS // 1_000_000}
    )
    try:
        with warnings.catch_warnings(), _strict_decoding():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            file.seek(0)
            with Image.open(file) as probe:
                if probe.format not in _FORMATS:
                    raise refused
                if probe.width * probe.height > MAX_PIXELS:
                    raise too_large
                probe.verify()
            # ``verify`` leaves the image unusable: open it again to decode it.
            file.seek(0)
            image = Image.open(file)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as error:
        # Pillow refuses to open an image past its own limit, before we can measure it.
        raise too_large from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as error:
        raise refused from error
    return image


def _encode(image: Image.Image, side: int) -> tuple[bytes, str, int, int]:
    """``image`` shrunk to fit ``side`` and re-encoded without metadata: PNG when it has
    transparency, JPEG otherwise. Returns (bytes, extension, width, height)."""
    image = image.copy()
    image.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        image.convert("RGBA").save(out, format="PNG", optimize=True)
        extension = "png"
    else:
        image.convert("RGB").save(out, format="JPEG", quality=85, optimize=True)
        extension = "jpg"
    return out.getvalue(), extension, image.width, image.height


def upload_media(account: Account, file: IO[bytes], description: str = "") -> MediaAttachment:
    """Store an image ``account`` will attach to a post: refuses (``CommunityError``) a
    file that is not a JPEG/PNG/GIF/WebP image, over 10 MB or over 40 megapixels; turns it
    upright, shrinks it to at most 1920 px a side, re-encodes it (EXIF and all metadata
    gone; an animation keeps its first frame) and makes a 400 px preview."""
    if _size_of(file) > MAX_BYTES:
        raise CommunityError(
            _("This image is too big: at most %(mb)d MB.") % {"mb": MAX_BYTES // (1024 * 1024)}
        )
    if len(description) > MAX_DESCRIPTION:
        raise CommunityError(
            _("The description is at most %(max)d characters.") % {"max": MAX_DESCRIPTION}
        )
    image = ImageOps.exif_transpose(_open(file))
    full, extension, width, height = _encode(image, MAX_SIDE)
    preview, preview_extension, _w, _h = _encode(image, PREVIEW_SIDE)
    name = uuid.uuid4().hex
    media = MediaAttachment(account=account, width=width, height=height, description=description)
    media.file.save(f"{name}.{extension}", ContentFile(full), save=False)
    media.preview.save(f"{name}.{preview_extension}", ContentFile(preview), save=False)
    try:
        with transaction.atomic():
            media.save()
    except Exception:
        media.file.delete(save=False)
        media.preview.delete(save=False)
        raise
    return media


@transaction.atomic
def describe_media(account: Account, media_id: int, description: str) -> MediaAttachment:
    """Change the alt text of one of ``account``'s images (someone else's: as missing)."""
    media = MediaAttachment.objects.filter(pk=media_id, account=account).first()
    if media is None:
        raise CommunityError(_("This image does not exist."))
    if len(description) > MAX_DESCRIPTION:
        raise CommunityError(
            _("The description is at most %(max)d characters.") % {"max": MAX_DESCRIPTION}
        )
    media.description = description
    media.save(update_fields=["description"])
    return media
