"""Pictures: uploads opened safely, re-encoded to fixed sizes, stored under content-hash names.

An upload is read whole into memory (it is at most ``MEDIA_MAX_BYTES``), opened by Pillow
with only the JPEG, PNG and WebP decoders allowed (the format comes from the bytes, never the
file name), refused above ``MEDIA_MAX_PIXELS`` before it is decoded (a decompression bomb),
decoded fully (a truncated file fails here), turned upright from its EXIF orientation and
re-encoded from its pixels alone, so no metadata (EXIF GPS, comments, profiles) survives.

Each picture is stored as a few renditions named ``<key>-<size>.<ext>``, where the key is the
SHA-256 of the uploaded bytes: the same picture is stored once, a name never changes meaning,
so browsers may keep the files for a year. Nothing is written until every rendition is made;
each file is written to a temporary name and renamed, so a reader never sees half a file.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from PIL import Image, ImageOps, UnidentifiedImageError

#: Decoders an upload may use; anything else (SVG, GIF, TIFF, PDF…) is refused.
FORMATS = ("JPEG", "PNG", "WEBP")

#: Renditions: name → (width, height, format). Pictures are cropped to fill them.
SIZES = {
    "card": (640, 360, "WEBP"),
    "page": (1200, 675, "WEBP"),
    "share": (1200, 630, "JPEG"),
}
#: Logos keep their whole shape, fitted inside a square.
LOGO_SIZES = {"logo": (400, 400, "PNG")}

_EXTENSIONS = {"WEBP": "webp", "JPEG": "jpg", "PNG": "png"}
_MIMETYPES = {"webp": "image/webp", "jpg": "image/jpeg", "png": "image/png"}
#: What a stored file's name looks like (the media route serves nothing else).
FILE_NAME = re.compile(r"^[0-9a-f]{64}-(card|page|share|logo)\.(webp|jpg|png)$")


class PictureError(ValueError):
    """An upload that is not a picture we take; the message is for the person who sent it."""


@dataclass(frozen=True)
class Rendition:
    name: str
    data: bytes


def storage() -> Path:
    return Path(current_app.config["MEDIA_STORAGE"])


def file_name(key: str, size: str) -> str:
    sizes = {**SIZES, **LOGO_SIZES}
    return f"{key}-{size}.{_EXTENSIONS[sizes[size][2]]}"


def mimetype(name: str) -> str:
    return _MIMETYPES[name.rsplit(".", 1)[1]]


def read_upload(stream, max_bytes: int | None = None) -> bytes:
    """The uploaded file's bytes; raises :class:`PictureError` when it is empty or too large."""
    limit = max_bytes or current_app.config["MEDIA_MAX_BYTES"]
    data = stream.read(limit + 1)
    if not data:
        raise PictureError(_("Choose a picture to upload."))
    if len(data) > limit:
        raise PictureError(
            _(
                "The picture is over %(mb)s MB. Choose a smaller one (JPEG, PNG or WebP).",
                mb=limit // (1024 * 1024),
            )
        )
    return data


def open_picture(data: bytes) -> Image.Image:
    """Decode ``data`` safely into an upright RGB image; raises :class:`PictureError`."""
    max_pixels = current_app.config["MEDIA_MAX_PIXELS"]
    not_a_picture = PictureError(
        _("That file is not a picture we can use. Upload a JPEG, PNG or WebP image.")
    )
    with warnings.catch_warnings():
        # Pillow warns, then raises, above its own bomb limit; both are a refusal here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = image.size
            if width * height > max_pixels:
                raise PictureError(
                    _(
                        "The picture is too large in pixels (%(width)s × "
                        "%(height)s). Upload one under %(mp)s megapixels.",
                        width=width,
                        height=height,
                        mp=max_pixels // 1_000_000,
                    )
                )
            image.load()  # decodes every byte: a truncated file fails here
            image = ImageOps.exif_transpose(image)
        except PictureError:
            raise
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise PictureError(
                _(
                    "The picture is too large in pixels. Upload one under %(mp)s megapixels.",
                    mp=max_pixels // 1_000_000,
                )
            ) from None
        except UnidentifiedImageError:
            raise not_a_picture from None
        except (OSError, SyntaxError, ValueError):
            raise PictureError(
                _(
                    "The picture could not be read to the end: the file is "
                    "damaged or incomplete. Upload it again."
                )
            ) from None
    if width < 200 or height < 100:
        raise PictureError(
            _(
                "The picture is too small (%(width)s × %(height)s). Upload one at "
                "least 200 pixels wide and 100 high.",
                width=width,
                height=height,
            )
        )
    return _flatten(image)


def _flatten(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(background, rgba).convert("RGB")
    return image.convert("RGB")


def _encode(image: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "JPEG":
        image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    elif fmt == "WEBP":
        image.save(out, "WEBP", quality=80, method=4)
    else:
        image.save(out, "PNG", optimize=True)
    return out.getvalue()


def renditions(data: bytes, *, logo: bool = False) -> tuple[str, list[Rendition]]:
    """(key, renditions) of an uploaded picture, made in memory; nothing is written.
    Raises :class:`PictureError` for anything but a sound JPEG, PNG or WebP picture."""
    image = open_picture(data)
    key = hashlib.sha256(data).hexdigest()
    made = []
    for size, (width, height, fmt) in (LOGO_SIZES if logo else SIZES).items():
        if logo:
            fitted = image.copy()
            fitted.thumbnail((width, height), Image.Resampling.LANCZOS)
        else:
            fitted = ImageOps.fit(image, (width, height), Image.Resampling.LANCZOS)
        made.append(Rendition(file_name(key, size), _encode(fitted, fmt)))
    return key, made


def store(made: list[Rendition]) -> list[Path]:
    """Write renditions to ``MEDIA_STORAGE``; returns the files this call created (the caller
    removes them with :func:`discard` if what refers to them is not saved)."""
    folder = storage()
    folder.mkdir(parents=True, exist_ok=True)
    created = []
    try:
        for rendition in made:
            path = folder / rendition.name
            if path.exists():
                continue  # same content, same name: already there
            tmp = folder / f".{rendition.name}.{os.getpid()}.tmp"
            tmp.write_bytes(rendition.data)
            os.replace(tmp, path)
            created.append(path)
    except OSError:
        discard(created)
        raise
    return created


def discard(paths: list[Path]) -> None:
    for path in paths:
        path.unlink(missing_ok=True)


def remove_unused(key: str | None, still_used: bool) -> None:
    """Delete a picture's files once nothing refers to ``key`` any more."""
    if not key or still_used:
        return
    discard([storage() / file_name(key, size) for size in (*SIZES, *LOGO_SIZES)])


def path_of(name: str) -> Path | None:
    """The stored file called ``name``, or None for any other name."""
    if not FILE_NAME.match(name):
        return None
    path = storage() / name
    return path if path.is_file() else None


def load_share_base(key: str) -> Image.Image | None:
    """The 1200×630 rendition of a picture (the share card's background), or None."""
    path = path_of(file_name(key, "share"))
    if path is None:
        return None
    with Image.open(path) as image:
        image.load()
        return image.convert("RGB")
