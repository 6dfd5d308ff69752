import base64
import json
from datetime import date
from decimal import Decimal

import pytest

from kyc.innovatif.mapping import (
    DOCUMENT_TYPE_TO_PROVIDER,
    ResultFormatError,
    mykad_date_of_birth,
    parse_result,
    to_bool,
)

JPEG = b"\xff\xd8\xff\xe0fake-jpeg-bytes"


def completed_body(**overrides):
    body = {
        "status": 2,
        "result": 1,
        "reject_message": None,
        "step1": {
            "status": True,
            "ocr_result": {
                "full_name": "AHMAD BIN ABDULLAH",
                "front_document_number": "901231-14-5671",
                "address": "123 JALAN EXAMPLE, 50000 KUALA LUMPUR",
                "gender": "LELAKI",
                "back_document_number": "901231-14-5671-04-01",
            },
            "text_similarity_result": {
                "name_similarity_status": True,
                "document_number_similarity_status": True,
                "front_back_number_similarity_status": True,
            },
            "landmark_status": {"landmark_is_valid": True, "labelcheck_result": True, "materialcheck_result": True},
        },
        "step2": {"status": True, "is_identical": True, "percentage": "95.12"},
        "front_document_image": base64.b64encode(JPEG).decode(),
        "back_document_image": base64.b64encode(JPEG + b"b").decode(),
        "face_image": base64.b64encode(JPEG + b"f").decode(),
        "best_frame": base64.b64encode(JPEG + b"x").decode(),
    }
    body.update(overrides)
    return body


def test_document_type_mapping():
    assert DOCUMENT_TYPE_TO_PROVIDER == {"1": "1", "2": "3"}


def test_completed_approved_maps_every_field():
    result = parse_result(completed_body())
    assert result.status == "completed"
    assert result.result == "approved"
    assert result.provider_status == "2"
    assert result.provider_result == "1"
    assert result.reject_message is None
    assert result.full_name == "AHMAD BIN ABDULLAH"
    assert result.id_number == "901231-14-5671"
    assert result.id_number_back == "901231-14-5671-04-01"
    assert result.address == "123 JALAN EXAMPLE, 50000 KUALA LUMPUR"
    assert result.gender == "LELAKI"
    assert result.nationality == ""
    assert result.date_of_birth == date(1990, 12, 31)
    assert result.document_valid is True
    assert (result.name_match, result.id_match, result.front_back_match, result.landmark_valid) == (True,) * 4
    assert result.face_match is True
    assert result.liveness_passed is True
    assert result.face_match_score == Decimal("95.12")
    assert result.images == {
        "front_document": JPEG,
        "back_document": JPEG + b"b",
        "face_image": JPEG + b"f",
        "best_frame": JPEG + b"x",
    }


def test_raw_has_no_image_data_and_is_json():
    body = completed_body()
    body["step2"]["best_frame"] = base64.b64encode(b"y" * 10000).decode()
    result = parse_result(body)
    assert set(result.raw) == {"innovatif_status", "innovatif_result", "step1", "step2"}
    assert result.raw["innovatif_status"] == "2"
    assert result.raw["innovatif_result"] == "1"
    assert result.raw["step1"]["ocr_result"]["full_name"] == "AHMAD BIN ABDULLAH"
    assert "best_frame" not in result.raw["step2"]
    dumped = json.dumps(result.raw)
    assert len(dumped) < 3000
    # the source body is not modified
    assert "best_frame" in body["step2"]


@pytest.mark.parametrize(
    ("status", "result", "expected_status", "expected_result"),
    [
        (0, None, "pending", None),
        (1, None, "processing", None),
        ("2", "1", "completed", "approved"),
        (2, 0, "completed", "rejected"),
        (2, 2, "completed", "rejected"),
        (2, None, "completed", "rejected"),
        (3, 2, "expired", None),
        ("3", "", "expired", None),
        (9, 1, "pending", None),
        (None, None, "pending", None),
        (2.0, 1.0, "completed", "approved"),
    ],
)
def test_status_and_result_codes(status, result, expected_status, expected_result):
    parsed = parse_result({"status": status, "result": result})
    assert parsed.status == expected_status
    assert parsed.result == expected_result


def test_rejected_with_message_and_false_flags():
    body = completed_body(result="0", reject_message="Step 2 failed")
    body["step1"]["text_similarity_result"]["document_number_similarity_status"] = "false"
    body["step2"] = {"status": "true", "is_identical": 0, "percentage": "41.30"}
    parsed = parse_result(body)
    assert parsed.result == "rejected"
    assert parsed.reject_message == "Step 2 failed"
    assert parsed.id_match is False
    assert parsed.document_valid is False
    assert parsed.face_match is False
    assert parsed.liveness_passed is True
    assert parsed.face_match_score == Decimal("41.30")


def test_document_valid_definition():
    base = completed_body()
    assert parse_result(base).document_valid is True
    for section, key in [
        ("text_similarity_result", "name_similarity_status"),
        ("text_similarity_result", "front_back_number_similarity_status"),
        ("landmark_status", "landmark_is_valid"),
        ("landmark_status", "labelcheck_result"),
        ("landmark_status", "materialcheck_result"),
    ]:
        body = completed_body()
        body["step1"][section][key] = False
        assert parse_result(body).document_valid is False, key
    body = completed_body()
    body["step1"]["status"] = False
    assert parse_result(body).document_valid is False
    # a check the provider omits does not count against it (passport: no back)
    body = completed_body()
    del body["step1"]["text_similarity_result"]["front_back_number_similarity_status"]
    parsed = parse_result(body)
    assert parsed.document_valid is True
    assert parsed.front_back_match is None
    # nothing reported at all
    assert parse_result({"status": 2, "result": 1, "step1": {"status": True}}).document_valid is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, True),
        (False, False),
        ("true", True),
        ("FALSE", False),
        (1, True),
        (0, False),
        ("1", True),
        ("0", False),
        ("yes", True),
        (None, None),
        ("maybe", None),
        (2, None),
        ([], None),
        ({}, None),
    ],
)
def test_to_bool(value, expected):
    assert to_bool(value) is expected


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("901231-14-5671", date(1990, 12, 31)),
        ("901231 14 5671", date(1990, 12, 31)),
        ("050229-10-1234", None),  # 2005 was not a leap year
        ("040229-10-1234", date(2004, 2, 29)),
        ("901234-56-7890", None),  # day 34
        ("901301-14-5671", None),  # month 13
        ("000101-14-5671", date(2000, 1, 1)),
        ("12345", None),
        ("A12345678", None),
        ("", None),
        (None, None),
    ],
)
def test_mykad_date_of_birth(number, expected):
    assert mykad_date_of_birth(number, today=date(2026, 1, 28)) == expected


def test_mykad_century_boundary():
    today = date(2026, 6, 1)
    assert mykad_date_of_birth("260101-01-0001", today=today) == date(2026, 1, 1)
    assert mykad_date_of_birth("270101-01-0001", today=today) == date(1927, 1, 1)


def test_impossible_date_is_none_never_a_string():
    body = completed_body()
    body["step1"]["ocr_result"]["front_document_number"] = "901234-56-7890"
    assert parse_result(body).date_of_birth is None


def test_passport_uses_ocr_date_and_not_the_number():
    body = completed_body()
    body["step1"]["ocr_result"] = {
        "full_name": "JOHN DOE",
        "front_document_number": "900101145671",
        "nationality": "MYS",
        "date_of_birth": "1985-07-04",
    }
    parsed = parse_result(body, document_type="2")
    assert parsed.date_of_birth == date(1985, 7, 4)
    assert parsed.nationality == "MYS"
    body["step1"]["ocr_result"]["date_of_birth"] = "1985-02-30"
    assert parse_result(body, document_type="2").date_of_birth is None


@pytest.mark.parametrize(
    ("percentage", "expected"),
    [
        ("80.99", Decimal("80.99")),
        (95, Decimal("95")),
        ("100", Decimal("100")),
        ("101", None),
        ("-1", None),
        ("NaN", None),
        ("abc", None),
        (None, None),
        (True, None),
        ("12.5%", Decimal("12.5")),
    ],
)
def test_face_match_score(percentage, expected):
    assert parse_result({"status": 2, "result": 1, "step2": {"percentage": percentage}}).face_match_score == expected


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"status": {"x": 1}, "result": [1]},
        {"status": 2, "result": 1, "step1": "garbage", "step2": 7},
        {"status": 2, "step1": {"ocr_result": ["x"], "text_similarity_result": None, "landmark_status": 3}},
        {"status": 2, "front_document_image": "%%% not base64", "face_image": 12, "best_frame": ""},
        {"status": 2, "reject_message": {"nested": True}, "step1": {"ocr_result": {"full_name": 123}}},
    ],
)
def test_garbage_never_crashes(body):
    parsed = parse_result(body)
    assert parsed.status in {"pending", "processing", "completed", "expired"}
    assert parsed.images == {} or all(isinstance(v, bytes) for v in parsed.images.values())
    json.dumps(parsed.raw)


@pytest.mark.parametrize("body", [None, [], "text", 5])
def test_non_dict_body_raises_result_format_error(body):
    with pytest.raises(ResultFormatError):
        parse_result(body)


def test_data_uri_images_are_decoded():
    body = {"status": 2, "result": 1, "face_image": "data:image/jpeg;base64," + base64.b64encode(JPEG).decode()}
    assert parse_result(body).images == {"face_image": JPEG}
