"""Photos uploaded at the desk console (代客登记), kept on disk beside the database.

A Telegram photo is stored on the ticket as its ``file_id``; an uploaded one as ``upload:<name>``,
its name the SHA-256 of its bytes (the same photo twice is one file). Only real images are kept:
the bytes are opened and verified, whatever the file name or the browser says.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
from pathlib import Path

from services.errors import DeskError

UPLOAD = "upload:"
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "GIF": "gif"}  # what Telegram shows as a photo
NAME = re.compile(r"[0-9a-f]{64}\.(jpg|png|webp|gif)")


def is_upload(ref: str) -> bool:
    return ref.startswith(UPLOAD)


def image_extension(data: bytes) -> str:
    """The file extension of an image in a format Telegram shows as a photo; refuses anything else."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            kind = image.format
            image.verify()
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise DeskError("photo_invalid") from None
    if kind not in FORMATS:
        raise DeskError("photo_invalid")
    return FORMATS[kind]


def image_type(path: Path) -> str:
    """The MIME type of a kept picture (``application/octet-stream`` when it is not one)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            kind = image.format
    except (UnidentifiedImageError, OSError):
        return "application/octet-stream"
    return Image.MIME.get(kind or "", "application/octet-stream")


class MediaStore:
    """Uploaded photos in one folder (``MEDIA_DIR``)."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    def save(self, data: bytes, *, max_bytes: int) -> str:
        """Keep one uploaded photo; returns its reference for ``Complaint.photos``."""
        if not data:
            raise DeskError("photo_invalid")
        if len(data) > max_bytes:
            raise DeskError("photo_too_large", limit=max_bytes // 1_000_000)
        name = f"{hashlib.sha256(data).hexdigest()}.{image_extension(data)}"
        target = self.folder / name
        if not target.exists():
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = target.with_suffix(".part")
            partial.write_bytes(data)
            os.replace(partial, target)  # a crash leaves no half-written photo under the real name
        return UPLOAD + name

    def path(self, ref: str) -> Path | None:
        """The file of an uploaded photo (None for a Telegram file_id or an unknown name)."""
        if not is_upload(ref) or not NAME.fullmatch(ref[len(UPLOAD):]):
            return None
        found = self.folder / ref[len(UPLOAD):]
        return found if found.is_file() else None
