"""Settings: what start-up accepts, and the one-line error it gives for what it refuses.
(tests/unit/conftest.py clears the environment's settings before each test.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from app.settings import DEMO_JWT_SECRET, Settings, SettingsError, load_settings

SECRET = "s" * 32


def refusal(**values: object) -> tuple[tuple, str]:
    with pytest.raises(ValidationError) as caught:
        Settings(**values)
    [error] = caught.value.errors()
    return error["loc"], error["msg"]


def test_the_defaults_with_a_secret():
    s = Settings(jwt_secret=SECRET)
    assert (s.database_url, s.heartbeat_interval_seconds, s.stale_gap_seconds,
            s.pause_grace_seconds, s.max_body_bytes, s.log_level) \
        == (None, 30, 300, 300, 65536, "INFO")
    assert s.signing_key == SECRET


def test_a_secret_is_required_outside_the_demo():
    assert refusal() == ((), "Value error, JWT_SECRET is required outside the embedded demo")


def test_the_demo_signs_with_its_published_key_when_no_secret_is_given():
    assert Settings(demo_mode=True).signing_key == DEMO_JWT_SECRET


@pytest.mark.parametrize("secret, accepted", [
    ("s" * 31, False),
    ("s" * 32, True),
    ("é" * 16, True),   # 16 characters, 32 bytes: the rule is in bytes
    ("é" * 15 + "s", False),
])
def test_an_hmac_secret_is_at_least_32_bytes(secret, accepted):
    if accepted:
        assert Settings(jwt_secret=secret).jwt_secret == secret
    else:
        assert refusal(jwt_secret=secret) == ((), "Value error, JWT_SECRET must be at least "
                                                  "32 bytes")


def test_the_length_rule_is_for_hmac_keys_only():
    assert Settings(jwt_secret="short", jwt_algorithm="RS256").jwt_secret == "short"


@pytest.mark.parametrize("interval, stale_gap, accepted", [
    (30, 30, True),
    (30, 300, True),
    (60, 59, False),
    (300, 299, False),
])
def test_the_stale_gap_is_at_least_one_heartbeat_interval(interval, stale_gap, accepted):
    values = dict(jwt_secret=SECRET, heartbeat_interval_seconds=interval,
                  stale_gap_seconds=stale_gap)
    if accepted:
        assert Settings(**values).stale_gap_seconds == stale_gap
    else:
        assert refusal(**values) == (
            (), "Value error, STALE_GAP_SECONDS must be at least HEARTBEAT_INTERVAL_SECONDS")


@pytest.mark.parametrize("url", ["postgresql://u:p@db:5432/vts", "postgres://u@db/vts",
                                 "postgresql+asyncpg://u@db/vts"])
def test_postgresql_urls_are_accepted(url):
    assert Settings(jwt_secret=SECRET, database_url=url).database_url == url


@pytest.mark.parametrize("field", ["database_url", "database_listen_url"])
@pytest.mark.parametrize("url", ["mysql://u@db/vts", "db:5432/vts", "sqlite:///vts.db"])
def test_other_urls_are_refused(field, url):
    assert refusal(jwt_secret=SECRET, **{field: url}) == (
        (field,), "Value error, must be a postgresql://user:password@host:port/dbname URL")


def test_an_empty_url_means_unset():
    s = Settings(jwt_secret=SECRET, database_url="", database_listen_url="")
    assert (s.database_url, s.database_listen_url) == (None, None)


@pytest.mark.parametrize("level, expected", [("debug", "DEBUG"), ("Warning", "WARNING"),
                                             ("CRITICAL", "CRITICAL")])
def test_the_log_level_is_case_insensitive(level, expected):
    assert Settings(jwt_secret=SECRET, log_level=level).log_level == expected


def test_an_unknown_log_level_is_refused():
    assert refusal(jwt_secret=SECRET, log_level="verbose") == (
        ("log_level",), "Value error, must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")


@pytest.mark.parametrize("origins, expected", [
    ("", []),
    ("https://app.example", ["https://app.example"]),
    (" https://a.example , https://b.example,,", ["https://a.example", "https://b.example"]),
])
def test_cors_origins_are_a_comma_separated_list(origins, expected):
    assert Settings(jwt_secret=SECRET, cors_origins=origins).cors_origin_list == expected


@pytest.mark.parametrize("field, value", [
    ("heartbeat_interval_seconds", 4),
    ("heartbeat_interval_seconds", 301),
    ("max_body_bytes", 1023),
    ("bcrypt_rounds", 3),
    ("db_pool_size", 0),
    ("config_cache_ttl_seconds", 0),
    ("jwt_lifetime_seconds", 59),
])
def test_values_outside_their_bounds_are_refused(field, value):
    loc, _ = refusal(jwt_secret=SECRET, **{field: value})
    assert loc == (field,)


def test_settings_are_frozen():
    s = Settings(jwt_secret=SECRET)
    with pytest.raises(ValidationError):
        s.log_level = "DEBUG"


def test_load_settings_reads_the_environment(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("HEARTBEAT_INTERVAL_SECONDS", "45")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example")
    s = load_settings()
    assert (s.jwt_secret, s.heartbeat_interval_seconds, s.cors_origin_list) \
        == (SECRET, 45, ["https://a.example"])


def test_load_settings_overrides_win_over_the_environment(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("LOG_LEVEL", "ERROR")
    assert load_settings(log_level="debug").log_level == "DEBUG"


def test_a_bad_field_is_one_line_naming_the_variable(monkeypatch):
    monkeypatch.setenv("JWT_SECRET", SECRET)
    monkeypatch.setenv("HEARTBEAT_INTERVAL_SECONDS", "4")
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == ("invalid configuration: HEARTBEAT_INTERVAL_SECONDS: "
                                 "Input should be greater than or equal to 5")


def test_a_rule_across_fields_is_reported_under_settings():
    with pytest.raises(SettingsError) as caught:
        load_settings()
    assert str(caught.value) == ("invalid configuration: settings: Value error, JWT_SECRET is "
                                 "required outside the embedded demo")


def test_several_problems_are_joined_on_one_line(monkeypatch):
    monkeypatch.setenv("LOG_LEVEL", "loud")
    monkeypatch.setenv("DATABASE_URL", "mysql://db")
    with pytest.raises(SettingsError) as caught:
        load_settings(jwt_secret=SECRET)
    assert str(caught.value) == (
        "invalid configuration: DATABASE_URL: Value error, must be a "
        "postgresql://user:password@host:port/dbname URL; LOG_LEVEL: Value error, must be one of "
        "DEBUG, INFO, WARNING, ERROR, CRITICAL")


def test_the_readme_documents_every_setting_with_its_default():
    """The configuration table is where an operator looks: a setting missing there is one
    nobody can find (demo_mode is the CLI's, not the operator's)."""
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = {line.split("|")[1].strip().strip("`"): line.split("|")[2].strip()
            for line in readme.splitlines() if line.startswith("| `")}
    for name, field in Settings.model_fields.items():
        if name == "demo_mode":
            continue
        assert name.upper() in rows, f"{name.upper()} is not in the README's configuration table"
        if field.default not in (None, ""):
            default = str(field.default).lower()
            assert rows[name.upper()].strip("`").lower() in (default, default.removesuffix(".0")), \
                f"{name.upper()}: README says {rows[name.upper()]}, the default is {default}"
