"""Validation of what a resident types during intake; pure functions, no Telegram."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

MOBILE = re.compile(r"1[3-9]\d{9}")
# Landline: optional area code 0xx(x) then 7-8 digits, optional extension.
LANDLINE = re.compile(r"0\d{2,3}-?\d{7,8}(?:-\d{1,6})?")


class IntakeError(ValueError):
    """Input that cannot be accepted; the message is shown to the resident as is."""


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
        raise IntakeError("描述不能为空，请用文字说明遇到的问题。")
    if len(value) > max_length:
        raise IntakeError(
            f"描述太长了（{len(value)}字），请精简到{max_length}字以内，"
            "可以分条说明，或提交后再补充。"
        )
    return value


def validate_location(text: str | None, *, max_length: int) -> str:
    """A location is free text like 3栋2单元501 or 小区东门, 2..max_length characters."""
    value = " ".join((text or "").split())
    if is_blank(value):
        raise IntakeError("位置不能为空，请告诉我们楼栋/单元/房号或小区内的具体地点。")
    if len(value) < 2:
        raise IntakeError("位置太简略了，请写明楼栋/单元/房号，或小区内的具体地点（如：东门岗亭）。")
    if len(value) > max_length:
        raise IntakeError(f"位置太长了，请控制在{max_length}字以内。")
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
    """Parse "13800138000" or "张先生 13800138000" (either order) into a Contact."""
    value = normalize_text(text)
    if not value:
        raise IntakeError("请分享手机号、直接输入电话号码，或选择匿名反映。")
    match = re.search(r"\+?[\d][\d\- ]{5,}\d", value)
    phone = normalize_phone(match.group(0)) if match else None
    if phone is None:
        raise IntakeError(
            "电话号码格式不对。请输入11位手机号（如 13812345678）或座机（如 0755-12345678），"
            "也可以点击下方按钮分享手机号，或选择匿名反映。"
        )
    name = (value[: match.start()] + " " + value[match.end():]).strip(" ，,:：")
    if len(name) > 32:
        raise IntakeError("称呼太长了，请只写姓名或称呼加电话，如：张先生 13812345678。")
    return Contact(phone=phone, name=name or default_name)


def mask_phone(phone: str | None) -> str:
    """Mask a phone for display to people who must not see it: 138****5678."""
    if not phone:
        return "—"
    if len(phone) <= 7:
        return phone[:2] + "*" * (len(phone) - 2)
    return phone[:3] + "****" + phone[-4:]
