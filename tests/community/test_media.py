"""Image uploads: refused files, resizing, previews and EXIF stripped."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image, ImageFile

from kindwave.community.models import Account, MediaAttachment
from kindwave.community.services import media as media_service
from kindwave.community.services.errors import CommunityError


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path: Path) -> None:
    settings.MEDIA_ROOT = tmp_path


def image_file(
    size: tuple[int, int] = (3000, 2000), fmt: str = "JPEG", mode: str = "RGB", exif: bool = True
) -> SimpleUploadedFile:
    image = Image.new(mode, size, "teal")
    out = io.BytesIO()
    extra = {}
    if exif:
        tags = Image.Exif()
        tags[0x010F] = "SecretCam"  # Make
        tags[0x0112] = 6  # Orientation: rotate 90°
        extra["exif"] = tags.tobytes()
    image.save(out, format=fmt, **extra)
    return SimpleUploadedFile(f"photo.{fmt.lower()}", out.getvalue())


class TestUpload:
    def test_resized_upright_and_stripped_with_a_preview(self, alice_account: Account) -> None:
        media = media_service.upload_media(alice_account, image_file(), description="a lake")

        with Image.open(media.file.path) as stored:
            assert max(stored.size) == 1920
            # Orientation 6 applied: the landscape photo is now portrait.
            assert stored.size == (1280, 1920) == (media.width, media.height)
            assert not stored.getexif()
            assert b"SecretCam" not in Path(media.file.path).read_bytes()
        with Image.open(media.preview.path) as preview:
            assert max(preview.size) == 400
        assert media.description == "a lake"

    def test_small_transparent_png_kept_as_png(self, alice_account: Account) -> None:
        media = media_service.upload_media(
            alice_account, image_file((200, 100), "PNG", "RGBA", exif=False)
        )

        assert media.file.name.endswith(".png")
        assert (media.width, media.height) == (200, 100)

    @pytest.mark.parametrize(
        ("upload", "message"),
        [
            (SimpleUploadedFile("x.jpg", b"not an image at all"), "not an image"),
            (
                SimpleUploadedFile("x.svg", b"<svg xmlns='http://www.w3.org/2000/svg'/>"),
                "not an image",
            ),
            (SimpleUploadedFile("x.jpg", b"\xff\xd8\xff" + b"0" * (10 * 1024 * 1024)), "too big"),
        ],
    )
    def test_refuses_non_images_and_big_files(
        self, alice_account: Account, upload: SimpleUploadedFile, message: str
    ) -> None:
        with pytest.raises(CommunityError, match=message):
            media_service.upload_media(alice_account, upload)
        assert not MediaAttachment.objects.exists()

    @pytest.mark.parametrize("lenient_elsewhere", [False, True])
    def test_refuses_a_truncated_image(
        self, alice_account: Account, monkeypatch: pytest.MonkeyPatch, lenient_elsewhere: bool
    ) -> None:
        # WeasyPrint sets this process-wide when the invoices' PDFs are made.
        monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", lenient_elsewhere)
        whole = image_file(exif=False).read()

        with pytest.raises(CommunityError, match="not an image"):
            media_service.upload_media(alice_account, SimpleUploadedFile("x.jpg", whole[:2000]))

    def test_refuses_over_40_megapixels(self, alice_account: Account) -> None:
        # A small file that decodes to 8000 by 6000 pixels.
        big = image_file((8000, 6000), "PNG", "1", exif=False)

        with pytest.raises(CommunityError, match="megapixels"):
            media_service.upload_media(alice_account, big)
        assert not MediaAttachment.objects.exists()

    @pytest.mark.parametrize("side", [10_000, 20_000])  # past Pillow's warning, its error
    def test_past_pillows_own_limit_is_too_large_not_a_bad_file(
        self, alice_account: Account, side: int
    ) -> None:
        huge = image_file((side, side), "PNG", "1", exif=False)

        with pytest.raises(CommunityError, match="too large: at most 40 megapixels"):
            media_service.upload_media(alice_account, huge)
        assert not MediaAttachment.objects.exists()

    def test_describe_only_ones_own(self, alice_account: Account, bob_account: Account) -> None:
        media = media_service.upload_media(alice_account, image_file((50, 50), exif=False))

        with pytest.raises(CommunityError):
            media_service.describe_media(bob_account, media.pk, "mine now")
        assert media_service.describe_media(alice_account, media.pk, "alt").description == "alt"
