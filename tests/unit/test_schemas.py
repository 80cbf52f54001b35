"""Request bodies as the service parses them (JSON mode, strict): what is refused, and which
field the error names."""

from __future__ import annotations

import uuid

import orjson
import pytest
from pydantic import BaseModel, ValidationError

from app.schemas import (
    Credentials,
    DeviceType,
    GrantRequest,
    HeartbeatRequest,
    LoginRequest,
    PinSet,
    PinVerify,
    ProfileCreate,
    TitlesUpsert,
    ViewingTimeConfigUpdate,
)

PROFILE, TITLE = str(uuid.uuid4()), str(uuid.uuid4())


def parse(model: type[BaseModel], body: dict) -> BaseModel:
    return model.model_validate_json(orjson.dumps(body))


def refusal(model: type[BaseModel], body: dict) -> tuple[tuple, str, str]:
    """(field path, error type, message) of the one error `body` gets."""
    with pytest.raises(ValidationError) as caught:
        parse(model, body)
    [error] = caught.value.errors()
    return error["loc"], error["type"], error["msg"]


# --- strict types --------------------------------------------------------------------------

@pytest.mark.parametrize("model, body, field, kind", [
    (ProfileCreate, {"name": "Kid", "is_kids": "true"}, "is_kids", "bool_type"),
    (ProfileCreate, {"name": "Kid", "is_kids": 1}, "is_kids", "bool_type"),
    (ProfileCreate, {"name": 7, "is_kids": True}, "name", "string_type"),
    (ViewingTimeConfigUpdate, {"weekday_limit_minutes": "60"}, "weekday_limit_minutes",
     "int_type"),
    (ViewingTimeConfigUpdate, {"weekday_limit_minutes": 60.0}, "weekday_limit_minutes",
     "int_type"),
    (PinVerify, {"pin": 1234}, "pin", "string_type"),
    (HeartbeatRequest, {"profile_id": PROFILE, "title_id": TITLE, "device_id": "tv-1",
                        "is_paused": 0}, "is_paused", "bool_type"),
])
def test_no_coercion_between_json_types(model, body, field, kind):
    loc, error_type, _ = refusal(model, body)
    assert (loc, error_type) == ((field,), kind)


def test_unknown_fields_are_ignored():
    profile = parse(ProfileCreate, {"name": "Kid", "is_kids": True, "is_admin": True})
    assert profile.model_dump() == {"name": "Kid", "is_kids": True, "timezone": "UTC"}


# --- NUL characters ------------------------------------------------------------------------

@pytest.mark.parametrize("model, body, field", [
    (ProfileCreate, {"name": "Ki\u0000d", "is_kids": True}, "name"),
    (Credentials, {"email": "a@example.com", "password": "password\u0000"}, "password"),
    (LoginRequest, {"email": "a@example.com\u0000", "password": "x"}, "email"),
    (HeartbeatRequest, {"profile_id": PROFILE, "title_id": TITLE, "device_id": "tv\u0000"},
     "device_id"),
    (TitlesUpsert, {"titles": [{"id": TITLE, "title": "Nu\u0000ll", "is_educational": False}]},
     "title"),
])
def test_nul_characters_are_refused_in_every_text_field(model, body, field):
    loc, _, message = refusal(model, body)
    assert loc[-1] == field
    assert message == "Value error, must not contain NUL (U+0000) characters"


# --- profiles: names and time zones --------------------------------------------------------

def test_a_profile_name_is_trimmed():
    assert parse(ProfileCreate, {"name": "  Kid  ", "is_kids": True}).name == "Kid"


@pytest.mark.parametrize("name, kind", [
    ("   ", "string_too_short"),  # only blanks: empty once trimmed
    ("", "string_too_short"),
    ("x" * 101, "string_too_long"),
])
def test_a_profile_name_is_1_to_100_characters(name, kind):
    assert refusal(ProfileCreate, {"name": name, "is_kids": False})[:2] == (("name",), kind)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "Asia/Kathmandu", "America/New_York", "UTC"])
def test_iana_zone_names_are_accepted(zone):
    assert parse(ProfileCreate, {"name": "Kid", "is_kids": True, "timezone": zone}).timezone \
        == zone


@pytest.mark.parametrize("zone", ["Mars/Olympus_Mons", "europe/berlin", "", "+02:00",
                                  "../../etc/passwd"])
def test_anything_else_is_not_a_time_zone(zone):
    loc, _, message = refusal(ProfileCreate, {"name": "Kid", "is_kids": True, "timezone": zone})
    assert loc == ("timezone",)
    assert message == "Value error, must be an IANA time zone name such as Europe/Berlin"


def test_a_zone_name_over_64_characters_is_refused_before_the_lookup():
    loc, kind, _ = refusal(ProfileCreate, {"name": "Kid", "is_kids": True, "timezone": "A" * 65})
    assert (loc, kind) == (("timezone",), "string_too_long")


# --- passwords and PINs --------------------------------------------------------------------

@pytest.mark.parametrize("password", ["12345678", "x" * 72, "é" * 36, "éééé"])
def test_a_password_of_8_to_72_bytes_is_accepted(password):
    # "éééé" is 4 characters but 8 bytes: bcrypt's limit is in bytes
    assert parse(Credentials, {"email": "a@example.com", "password": password}).password \
        == password


@pytest.mark.parametrize("password", ["1234567", "x" * 73, "é" * 37, "ééé"])
def test_a_password_outside_8_to_72_bytes_is_refused(password):
    loc, _, message = refusal(Credentials, {"email": "a@example.com", "password": password})
    assert (loc, message) == (("password",), "Value error, must be 8 to 72 bytes long")


def test_signing_in_does_not_reveal_the_password_rules():
    login = parse(LoginRequest, {"email": "not-even-an-email", "password": "x"})
    assert (login.email, login.password) == ("not-even-an-email", "x")


def test_registration_needs_a_real_email_address():
    loc, _, _ = refusal(Credentials, {"email": "not-an-email", "password": "long enough"})
    assert loc == ("email",)


@pytest.mark.parametrize("pin", ["0000", "1234", "9876"])
def test_a_pin_is_four_ascii_digits(pin):
    assert parse(PinVerify, {"pin": pin}).pin == pin


@pytest.mark.parametrize("pin", ["123", "12345", "12a4", "١٢٣٤", " 1234", "1234\n"])
def test_anything_else_is_not_a_pin(pin):
    loc, kind, _ = refusal(PinVerify, {"pin": pin})
    assert (loc, kind) == (("pin",), "string_pattern_mismatch")


def test_setting_a_pin_checks_both_pins():
    assert refusal(PinSet, {"new_pin": "1234", "current_pin": "12"})[:2] \
        == (("current_pin",), "string_pattern_mismatch")
    assert parse(PinSet, {"new_pin": "1234"}).current_pin is None


# --- viewing-time configuration ------------------------------------------------------------

@pytest.mark.parametrize("minutes", [15, 30, 465, 480])
def test_a_limit_is_15_to_480_minutes(minutes):
    update = parse(ViewingTimeConfigUpdate, {"weekend_limit_minutes": minutes})
    assert update.changes() == {"weekend_limit_minutes": minutes}


@pytest.mark.parametrize("minutes, message", [
    (0, "must be between 15 and 480 (or null for unlimited)"),
    (14, "must be between 15 and 480 (or null for unlimited)"),
    (495, "must be between 15 and 480 (or null for unlimited)"),
    (-15, "must be between 15 and 480 (or null for unlimited)"),
    (20, "must be a multiple of 15"),
    (479, "must be a multiple of 15"),
])
def test_a_limit_outside_the_range_or_off_the_15_minute_steps_is_refused(minutes, message):
    loc, _, msg = refusal(ViewingTimeConfigUpdate, {"weekday_limit_minutes": minutes})
    assert (loc, msg) == (("weekday_limit_minutes",), f"Value error, {message}")


def test_a_null_limit_is_a_change_to_unlimited_and_an_absent_one_no_change():
    update = parse(ViewingTimeConfigUpdate, {"weekday_limit_minutes": None})
    assert update.changes() == {"weekday_limit_minutes": None}
    assert parse(ViewingTimeConfigUpdate, {}).changes() == {}


@pytest.mark.parametrize("field", ["reset_hour", "educational_exempt", "timezone"])
def test_fields_without_an_unlimited_meaning_may_not_be_null(field):
    loc, _, message = refusal(ViewingTimeConfigUpdate, {field: None})
    assert (loc, message) == ((field,),
                              "Value error, may not be null (leave the field out to keep it)")


@pytest.mark.parametrize("hour, accepted", [(0, True), (23, True), (24, False), (-1, False)])
def test_the_reset_hour_is_0_to_23(hour, accepted):
    if accepted:
        assert parse(ViewingTimeConfigUpdate, {"reset_hour": hour}).changes() \
            == {"reset_hour": hour}
    else:
        assert refusal(ViewingTimeConfigUpdate, {"reset_hour": hour})[2] \
            == "Value error, must be an hour from 0 to 23"


def test_the_pin_token_is_a_credential_not_a_change():
    update = parse(ViewingTimeConfigUpdate, {"pin_token": "t", "educational_exempt": False,
                                             "timezone": "Asia/Kolkata"})
    assert update.pin_token == "t"
    assert update.changes() == {"educational_exempt": False, "timezone": "Asia/Kolkata"}


def test_a_change_names_a_real_zone():
    assert refusal(ViewingTimeConfigUpdate, {"timezone": "Europe/Atlantis"})[0] == ("timezone",)


# --- grants --------------------------------------------------------------------------------

@pytest.mark.parametrize("minutes", [15, 30, 60, None])
def test_a_grant_is_15_30_or_60_minutes_or_null_for_unlimited(minutes):
    assert parse(GrantRequest, {"minutes": minutes}).minutes == minutes


@pytest.mark.parametrize("minutes", [45, 90, 0, 120])
def test_other_grant_sizes_are_refused(minutes):
    loc, _, message = refusal(GrantRequest, {"minutes": minutes})
    assert (loc, message) == (("minutes",), "Value error, must be 15, 30, 60 or null "
                                            "(unlimited for the rest of the day)")


def test_a_grant_must_say_how_much_even_if_null():
    assert refusal(GrantRequest, {"pin": "1234"})[:2] == (("minutes",), "missing")


def test_a_grant_pin_is_checked_like_any_pin():
    assert refusal(GrantRequest, {"minutes": 15, "pin": "12345"})[0] == ("pin",)


# --- heartbeats and titles -----------------------------------------------------------------

def test_a_heartbeat_takes_uuids_from_json_strings_and_defaults_the_rest():
    beat = parse(HeartbeatRequest, {"profile_id": PROFILE, "title_id": TITLE, "device_id": "a"})
    assert (beat.profile_id, beat.title_id) == (uuid.UUID(PROFILE), uuid.UUID(TITLE))
    assert (beat.device_type, beat.session_id, beat.is_paused) == (DeviceType.web, None, False)


@pytest.mark.parametrize("change, field, kind", [
    ({"profile_id": "not-a-uuid"}, "profile_id", "uuid_parsing"),
    ({"device_type": "smartwatch"}, "device_type", "enum"),
    ({"device_id": ""}, "device_id", "string_too_short"),
    ({"device_id": "d" * 101}, "device_id", "string_too_long"),
    ({"session_id": 12}, "session_id", "uuid_type"),
])
def test_a_heartbeat_names_the_field_it_refuses(change, field, kind):
    body = {"profile_id": PROFILE, "title_id": TITLE, "device_id": "a", **change}
    assert refusal(HeartbeatRequest, body)[:2] == ((field,), kind)


def test_a_title_upsert_takes_at_most_10000_titles():
    title = {"id": TITLE, "title": "T", "is_educational": True}
    assert len(parse(TitlesUpsert, {"titles": [title] * 10_000}).titles) == 10_000
    assert refusal(TitlesUpsert, {"titles": [title] * 10_001})[:2] \
        == (("titles",), "too_long")


def test_a_title_error_names_its_index():
    body = {"titles": [{"id": TITLE, "title": "ok", "is_educational": True},
                       {"id": TITLE, "title": "", "is_educational": True}]}
    assert refusal(TitlesUpsert, body)[:2] == (("titles", 1, "title"), "string_too_short")
