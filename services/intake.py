"""Validation of what a resident types during intake; pure functions, no Telegram."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from services.errors import DeskError

MOBILE = re.compile(r"1[3-9]\d{9}")
# Landline: optional area code 0xx(x) then 7-8 digits, optional extension.
LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(?:-\d{1,6})?")


class IntakeError(DeskError):
    """Input that cannot be accepted (a code and parameters; the bot says why in the resident's language)."""


def normalize_text(text: str | None) -> str:
    """Fold full-width characters and trim whitespace at the ends."""
    return unicodedata.normalize("NFKC", text or "").strip()


def is_blank(text: str | None) -> bool:
    """True when nothing visible is left: whitespace, zero-width and control characters only."""
    return not any(unicodedata.category(ch)[0] not in "ZC" for ch in text or "")


def validate_description(text: str | None, *, max_length: int) -> str:
    """A description must have 1..max_length visible characters."""
    value = (text or "").strip()
    if is_blank(value):
        raise IntakeError("description_empty")
    if len(value) > max_length:
        raise IntakeError("description_too_long", length=len(value), limit=max_length)
    return value


def validate_location(text: str | None, *, max_length: int) -> str:
    """A location is free text (building/unit/room or a place in the compound), 2..max_length characters."""
    value = " ".join((text or "").split())
    if is_blank(value):
        raise IntakeError("location_empty")
    if len(value) < 2:
        raise IntakeError("location_too_short")
    if len(value) > max_length:
        raise IntakeError("location_too_long", limit=max_length)
    return value


@dataclass(frozen=True)
class Contact:
    """A contact for callbacks: a phone and an optional name."""

    phone: str
    name: str | None = None


def normalize_phone(raw: str) -> str | None:
    """Return a canonical phone (mainland mobile or landline) or None if it is not one."""
    digits = normalize_text(raw).replace(" ", "").replace("－", "-")
    digits = re.sub(r"^(\+?86)-?", "", digits) if re.match(r"^\+?86-?1", digits) else digits
    digits = digits.strip("-")
    if MOBILE.fullmatch(digits):
        return digits
    if LANDLINE.fullmatch(digits):
        return digits
    return None


def parse_typed_contact(text: str | None, *, default_name: str | None = None) -> Contact:
    """Parse a phone alone or with a name (either order, e.g. "Mr Zhang 13800138000") into a Contact."""
    value = normalize_text(text)
    if not value:
        raise IntakeError("contact_empty")
    match = re.search(r"\+?[\d][\d\- ]{5,}\d", value)
    phone = normalize_phone(match.group(0)) if match else None
    if phone is None:
        raise IntakeError("phone_invalid")
    name = (value[: match.start()] + " " + value[match.end():]).strip(" ,:\uff0c\uff1a")  # ASCII and full-width , :
    if len(name) > 32:
        raise IntakeError("contact_name_too_long")
    return Contact(phone=phone, name=name or default_name)


def mask_phone(phone: str | None) -> str:
    """Mask a phone for display to people who must not see it: 138****5678."""
    if not phone:
        return "—"
    if len(phone) <= 7:
        return phone[:2] + "*" * (len(phone) - 2)
    return phone[:3] + "****" + phone[-4:]
