"""Garbage-collector settings for a served process.

Why: CPython's cyclic collector runs a young-generation pass every 700 net allocations and, every
hundred of those, a full pass over every tracked object, and the imported framework stack
(SQLAlchemy, pydantic, Starlette) is a few hundred thousand of them. Measured in process with a
real database (`python -m bench.inprocess [--served]`), the collector took ~120 µs of CPU per
heartbeat, a sixth of the service's; after `freeze()` (those start-up objects are left out of
every later pass) and a young-generation threshold of 10,000 it took ~25 µs. A heartbeat
leaves almost nothing behind, so the larger threshold does not let garbage pile up: reference
counting frees nearly everything at once anyway, and the collector still runs, less often.

Only served processes call this (app/asgi.py, imported by each uvicorn worker): the tests build
hundreds of apps in one process, and freezing each would keep their cycles for good.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000


def tune_for_serving() -> None:
    """Collect once, set what exists now aside for good, and collect the young less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
