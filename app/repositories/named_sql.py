"""SQL written with `:name` placeholders, bound to a NamedTuple of parameters.

asyncpg only knows positional `$1..$n`. A dozen positional parameters kept in order by a comment
is how a charge ends up in the wrong column, so each hot statement names its parameters, and its
parameter type (a NamedTuple, which *is* the positional tuple asyncpg wants: binding costs
nothing per call) says which name is which number. `bind` checks at import time that the SQL
and the type name the same parameters.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

# `:name`, but not the second colon of a `::type` cast nor inside a word.
PLACEHOLDER = re.compile(r"(?<![:\w]):([a-z_][a-z0-9_]*)")


def bind(sql: str, params: type[NamedTuple]) -> str:
    """`sql` with each `:name` replaced by `$k`, k being the field's position in `params`.
    Raises ValueError for a placeholder `params` lacks or a field the SQL never uses (PostgreSQL
    cannot type a parameter that appears nowhere)."""
    fields: tuple[str, ...] = params._fields
    used = set(PLACEHOLDER.findall(sql))
    if unknown := used - set(fields):
        raise ValueError(f"{params.__name__} has no field for {sorted(unknown)}")
    if unused := set(fields) - used:
        raise ValueError(f"{params.__name__} fields not used by the SQL: {sorted(unused)}")
    return PLACEHOLDER.sub(lambda m: f"${fields.index(m.group(1)) + 1}", sql)


def nulls(params: type[NamedTuple]) -> tuple[Any, ...]:
    """All-NULL arguments: enough to prepare a statement (it then matches no row)."""
    return (None,) * len(params._fields)
