"""Intake validation: descriptions, locations, phones and masking."""

import pytest

from services.intake import (
    IntakeError,
    mask_phone,
    normalize_phone,
    parse_typed_contact,
    validate_description,
    validate_location,
)


class TestDescription:
    def test_trims_and_accepts(self):
        assert validate_description("  电梯坏了  ", max_length=2000) == "电梯坏了"

    @pytest.mark.parametrize("text", ["", "   ", "\n\t", None, "\u3000", "\u200b\u200b", "\u200d \ufeff"])
    def test_empty_is_refused(self, text):
        with pytest.raises(IntakeError, match="description_empty"):
            validate_description(text, max_length=2000)

    def test_limit_is_inclusive(self):
        assert len(validate_description("漏" * 2000, max_length=2000)) == 2000
        with pytest.raises(IntakeError, match="description_too_long") as refused:
            validate_description("漏" * 2001, max_length=2000)
        assert refused.value.params == {"length": 2001, "limit": 2000}


class TestLocation:
    def test_collapses_whitespace(self):
        assert validate_location(" 3栋   2单元\n501 ", max_length=200) == "3栋 2单元 501"

    @pytest.mark.parametrize("text,match", [("", "location_empty"), ("东", "location_too_short"),
                                            ("楼" * 201, "location_too_long")])
    def test_refusals(self, text, match):
        with pytest.raises(IntakeError, match=match):
            validate_location(text, max_length=200)


class TestPhone:
    @pytest.mark.parametrize(
        "raw,expected",
        [
            ("13812345678", "13812345678"),
            ("+86 138 1234 5678", "13812345678"),
            ("8613812345678", "13812345678"),
            ("１３８１２３４５６７８", "13812345678"),  # full-width digits
            ("0755-12345678", "0755-12345678"),
            ("010-1234567", "010-1234567"),
        ],
    )
    def test_valid(self, raw, expected):
        assert normalize_phone(raw) == expected

    @pytest.mark.parametrize("raw", ["12812345678", "1381234567", "138123456789", "hello", "+1 415 555 0100"])
    def test_invalid(self, raw):
        assert normalize_phone(raw) is None

    def test_typed_contact_with_name_either_order(self):
        assert parse_typed_contact("张先生 13812345678").name == "张先生"
        contact = parse_typed_contact("13812345678，李女士")
        assert (contact.phone, contact.name) == ("13812345678", "李女士")

    def test_typed_contact_without_name_uses_default(self):
        assert parse_typed_contact("13812345678", default_name="王").name == "王"

    def test_typed_contact_invalid_explains_format(self):
        with pytest.raises(IntakeError, match="phone_invalid"):
            parse_typed_contact("电话 12345")

    def test_masking(self):
        assert mask_phone("13812345678") == "138****5678"
        assert mask_phone(None) == "—"
