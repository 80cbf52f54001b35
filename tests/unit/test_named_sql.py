"""Hot statements name their parameters; `bind` turns the names into asyncpg's `$k`."""

from __future__ import annotations

import re
from typing import NamedTuple

import pytest
from app.repositories import heartbeats
from app.repositories.named_sql import bind, nulls


class Two(NamedTuple):
    first: int
    second: str


def test_names_become_positions_in_field_order() -> None:
    sql = bind("SELECT :second, :first, :first + 1", Two)
    assert sql == "SELECT $2, $1, $1 + 1"


def test_casts_and_words_are_left_alone() -> None:
    sql = bind("SELECT :first::int, 'a:b', x::interval, :second::text", Two)
    assert sql == "SELECT $1::int, 'a:b', x::interval, $2::text"


def test_a_name_the_type_lacks_is_refused() -> None:
    with pytest.raises(ValueError, match=r"Two has no field for \['third'\]"):
        bind("SELECT :first, :second, :third", Two)


def test_a_field_the_sql_never_uses_is_refused() -> None:
    with pytest.raises(ValueError, match=r"fields not used by the SQL: \['second'\]"):
        bind("SELECT :first", Two)


def test_nulls_has_one_null_per_parameter() -> None:
    assert nulls(Two) == (None, None)


@pytest.mark.parametrize(("sql", "params"), heartbeats.HOT_STATEMENTS)
def test_every_hot_statement_numbers_each_parameter_once(sql: str, params: type) -> None:
    """No name left unbound, and $1..$n all present (PostgreSQL types each one)."""
    assert ":" + params._fields[0] not in sql
    numbers = {int(n) for n in re.findall(r"\$(\d+)", sql)}
    assert numbers == set(range(1, len(params._fields) + 1))
