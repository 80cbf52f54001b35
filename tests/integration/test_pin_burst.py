"""PIN checks at real bcrypt cost run on the hasher's pool, not the event loop: heartbeats keep
flowing while a burst of verifications is in flight.

If bcrypt ran on the event loop, each verification (~0.3 s at cost 12) would stall the loop and
only a handful of heartbeats could finish during the burst; here dozens do, each in a few ms.
"""

from __future__ import annotations

import asyncio
import statistics
import time

import pytest

from tests.support.apps import make_settings
from tests.support.parental import set_pin, verify

pytestmark = pytest.mark.anyio

BURST = 5


@pytest.fixture
def settings(database_url):  # type: ignore[no-untyped-def]
    return make_settings(database_url, bcrypt_rounds=12, hasher_threads=1)


async def _timed_beat(parent, kid, title, session, clock) -> float:
    clock.advance(1)  # (the access token must outlive the run on the frozen clock)
    started = time.perf_counter()
    r = await parent.beat(kid, title, session)
    elapsed = time.perf_counter() - started
    assert r.status_code == 200, r.text
    return elapsed


async def test_heartbeats_flow_while_pin_checks_are_in_flight(parent, titles, clock, container):
    kid = await parent.child()
    assert (await set_pin(parent, "1234")).status_code == 200
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    started = time.perf_counter()
    assert (await verify(parent, "1234")).status_code == 200
    one_check = time.perf_counter() - started
    baseline = [await _timed_beat(parent, kid, titles.cartoon, session, clock) for _ in range(200)]

    hasher = container.hasher()
    checks = [asyncio.create_task(verify(parent, "1234")) for _ in range(BURST)]
    while hasher.queue_depth < BURST:  # all five handed to the pool
        await asyncio.sleep(0.001)
    during: list[float] = []
    pending_at_first_beat = None
    while not all(c.done() for c in checks):
        during.append(await _timed_beat(parent, kid, titles.cartoon, session, clock))
        if pending_at_first_beat is None:
            pending_at_first_beat = sum(not c.done() for c in checks)
    assert [c.result().status_code for c in checks] == [200] * BURST

    def ms(values: list[float]) -> str:
        p95 = statistics.quantiles(values, n=20)[-1]
        return (f"p50 {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
                f"max {max(values) * 1000:.1f} ms (n={len(values)})")

    print(f"\none PIN check at bcrypt cost 12: {one_check * 1000:.0f} ms"
          f"\nheartbeat alone:                 {ms(baseline)}"
          f"\nheartbeat, {BURST} PIN checks in flight: {ms(during)}")
    assert pending_at_first_beat is not None and pending_at_first_beat >= BURST - 1
    assert len(during) >= 10  # bcrypt on the loop would allow at most ~BURST
    assert statistics.median(during) < one_check / 3
