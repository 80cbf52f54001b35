"""URL forms for each client: one host unchanged, several hosts in each driver's spelling and
(unless the URL says otherwise) restricted to a server that accepts writes."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects.postgresql.asyncpg import dialect
from sqlalchemy.engine import make_url

from app import dburl
from app.database import asyncpg_dsn, sqlalchemy_url
from app.settings import Settings

SECRET = "x" * 32


def connect_args(url: str) -> dict[str, object]:
    """What SQLAlchemy would pass to asyncpg.connect for `url`."""
    return dialect().create_connect_args(make_url(sqlalchemy_url(url)))[1]


@pytest.mark.parametrize("url", [
    "postgresql://postgres@127.0.0.1:5432/postgres",
    "postgresql://u:p%40ss@db.internal/app?sslmode=disable",
    "postgres://u@/app?host=/var/run/postgresql",
])
def test_one_host_only_changes_the_scheme(url: str) -> None:
    rest = url.split("://", 1)[1]
    assert asyncpg_dsn(url) == f"postgresql://{rest}"
    assert sqlalchemy_url(url) == f"postgresql+asyncpg://{rest}"


def test_several_hosts_stay_in_the_netloc_for_asyncpg_and_must_accept_writes() -> None:
    assert (asyncpg_dsn("postgresql://u@h1:5432,h2:5433/db")
            == "postgresql://u@h1:5432,h2:5433/db?target_session_attrs=read-write")


def test_several_hosts_become_host_and_port_lists_for_sqlalchemy() -> None:
    url = "postgresql://u@h1:5432,h2:5433/db"
    assert (sqlalchemy_url(url) == "postgresql+asyncpg://u@/db?host=h1,h2&port=5432,5433"
                                   "&target_session_attrs=read-write")
    assert connect_args(url) == {"user": "u", "database": "db", "host": ["h1", "h2"],
                                 "port": [5432, 5433], "target_session_attrs": "read-write"}


def test_a_host_without_a_port_gets_5432_for_sqlalchemy() -> None:
    assert connect_args("postgresql://u@h1,h2:6432/db")["port"] == [5432, 6432]
    assert asyncpg_dsn("postgresql://u@h1,h2:6432/db").startswith("postgresql://u@h1,h2:6432/")


def test_a_target_session_attrs_in_the_url_is_kept() -> None:
    url = "postgresql://u@h1,h2/db?target_session_attrs=primary"
    assert asyncpg_dsn(url) == url
    assert connect_args(url)["target_session_attrs"] == "primary"


def test_the_user_password_and_other_parameters_survive() -> None:
    url = "postgresql://app:p%40ss%3Aword@h1:1,h2:2/db?sslmode=require"
    assert asyncpg_dsn(url) == f"{url}&target_session_attrs=read-write"
    args = connect_args(url)
    assert (args["user"], args["password"], args["sslmode"]) == ("app", "p@ss:word", "require")


def test_ipv6_hosts_keep_their_brackets_for_asyncpg_and_lose_them_for_sqlalchemy() -> None:
    url = "postgresql://u@[::1]:5432,h2/db"
    assert asyncpg_dsn(url).startswith("postgresql://u@[::1]:5432,h2/db?")
    assert connect_args(url)["host"] == ["::1", "h2"]


def test_no_user_and_several_hosts() -> None:
    assert connect_args("postgresql://h1,h2/db")["host"] == ["h1", "h2"]


def test_a_host_list_in_the_query_counts_as_several_hosts() -> None:
    url = "postgresql://u@/db?host=h1,h2&port=5432,5433"
    assert asyncpg_dsn(url) == f"{url}&target_session_attrs=read-write"
    assert connect_args(url)["host"] == ["h1", "h2"]


def test_the_read_url_default_is_passed_in() -> None:
    assert asyncpg_dsn("postgresql://h1,h2/db", dburl.READ_ATTRS).endswith(
        "target_session_attrs=any")


@pytest.mark.parametrize("url", [
    "mysql://h/db",
    "postgresql://u@h1:99999,h2/db",
    "postgresql://u@h1:x/db",
    "postgresql://u@h1,,h2/db",
    "postgresql://u@h1,h2/db?target_session_attrs=writable",
    "postgresql://u@h1,h2/db?host=/tmp",
])
def test_a_malformed_url_is_a_readable_setting_error(url: str) -> None:
    with pytest.raises(ValueError):
        Settings(jwt_secret=SECRET, database_url=url)


@pytest.mark.parametrize("field", ["database_url", "database_listen_url"])
def test_settings_accept_several_hosts(field: str) -> None:
    url = "postgresql://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write"
    assert getattr(Settings(jwt_secret=SECRET, **{field: url}), field) == url


def test_each_host_is_tried_on_its_own_with_the_urls_attrs() -> None:
    url = asyncpg_dsn("postgresql://u:p@h1:1,h2/db?sslmode=disable")
    assert dburl.parse(url).each_host() == [
        "postgresql://u:p@h1:1/db?sslmode=disable&target_session_attrs=read-write",
        "postgresql://u:p@h2/db?sslmode=disable&target_session_attrs=read-write"]


def test_prefer_standby_tries_every_host_as_a_standby_first() -> None:
    hosts = dburl.parse("postgresql://h1,h2/db?target_session_attrs=prefer-standby").each_host()
    assert hosts == ["postgresql://h1/db?target_session_attrs=standby",
                     "postgresql://h2/db?target_session_attrs=standby",
                     "postgresql://h1/db?target_session_attrs=any",
                     "postgresql://h2/db?target_session_attrs=any"]


@pytest.mark.parametrize("url", ["postgresql://u@h/db", "postgresql://u@/db?host=h1,h2"])
def test_one_host_or_a_query_host_list_is_one_attempt(url: str) -> None:
    assert len(dburl.parse(url).each_host()) == 1
