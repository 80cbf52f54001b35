"""`/api/v1/admin/metrics` (admin JSON) and `/metrics` (Prometheus text)."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.support import api
from tests.support.api import API
from tests.support.parental import put_config, weekly_report

pytestmark = pytest.mark.anyio

SHAPE = {
    "uptime_seconds": None,
    "heartbeat": {"total_processed", "avg_db_ops_per_heartbeat", "avg_duration_ms",
                  "max_duration_ms", "p95_duration_ms"},
    "config_cache": {"hit_rate", "total_hits", "total_misses", "total_invalidations",
                     "current_size", "max_size"},
    "weekly_report": {"total_generated", "avg_queries_per_report"},
}


async def admin_metrics(parent: api.Parent) -> dict:
    r = await parent.client.get(f"{API}/admin/metrics", headers=parent.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def test_admin_metrics_is_for_admins_only(client, parent, container):
    r = await client.get(f"{API}/admin/metrics")
    assert r.status_code == 401
    assert r.headers["www-authenticate"] == "Bearer"
    r = await client.get(f"{API}/admin/metrics", headers=parent.headers)
    assert r.status_code == 403
    await api.make_admin(container, parent)
    assert (await client.get(f"{API}/admin/metrics", headers=parent.headers)).status_code == 200


async def test_admin_metrics_has_exactly_the_documented_shape(parent, container):
    await api.make_admin(container, parent)
    body = await admin_metrics(parent)
    assert set(body) == set(SHAPE)
    for section, fields in SHAPE.items():
        if fields is not None:
            assert set(body[section]) == fields, section
    assert body["heartbeat"]["total_processed"] == 0
    assert body["config_cache"]["max_size"] == container.settings().config_cache_max_size
    assert isinstance(body["uptime_seconds"], float) and body["uptime_seconds"] >= 0


async def test_admin_metrics_move_with_heartbeats_cache_and_reports(parent, container, titles,
                                                                   clock):
    await api.make_admin(container, parent)
    kid = await parent.child()
    first = await parent.beat(kid, titles.cartoon)
    session = first.json()["session_id"]
    for _ in range(3):
        clock.advance(30)
        assert (await parent.beat(kid, titles.cartoon, session)).status_code == 200
    assert (await put_config(parent, kid, weekday_limit_minutes=60)).status_code == 200
    assert (await weekly_report(parent)).status_code == 200

    body = await admin_metrics(parent)
    beats = body["heartbeat"]
    assert beats["total_processed"] == 4
    # First beat: the open statement plus the config load; then one round trip each.
    assert 1 <= beats["avg_db_ops_per_heartbeat"] <= 1.5
    assert 0 < beats["avg_duration_ms"] <= beats["max_duration_ms"]
    assert 0 < beats["p95_duration_ms"] <= beats["max_duration_ms"]
    cache = body["config_cache"]
    assert cache["total_misses"] >= 1 and cache["total_hits"] >= 3
    assert cache["hit_rate"] == round(
        cache["total_hits"] / (cache["total_hits"] + cache["total_misses"]), 4)
    assert cache["total_invalidations"] >= 1  # the config change
    assert body["weekly_report"]["total_generated"] == 1
    assert 1 <= body["weekly_report"]["avg_queries_per_report"] <= 3


def families(text: str) -> dict[str, object]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(family, **labels: str) -> list:  # type: ignore[no-untyped-def]
    return [s for s in family.samples if all(s.labels.get(k) == v for k, v in labels.items())]


async def test_prometheus_output_parses_and_has_every_series(client, parent, titles, clock):
    kid = await parent.child()
    session = (await parent.beat(kid, titles.cartoon)).json()["session_id"]
    clock.advance(30)
    await parent.beat(kid, titles.cartoon, session)
    await parent.balance(kid)
    await client.get("/no/such/path")

    r = await client.get("/metrics")  # no token: the network policy guards it
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    found = families(r.text)
    for name in ("vts_http_request_duration_seconds", "vts_heartbeats", "vts_heartbeat_failures",
                 "vts_heartbeat_db_round_trips", "vts_config_cache_hits",
                 "vts_config_cache_misses", "vts_config_cache_invalidations",
                 "vts_config_cache_size", "vts_config_cache_max_size", "vts_hasher_queue_depth",
                 "vts_db_pool_connections", "vts_db_pool_in_use", "vts_db_pool_max_connections",
                 "vts_weekly_reports", "vts_weekly_report_queries", "process_resident_memory_bytes"):
        assert name in found, name

    latency = found["vts_http_request_duration_seconds"]
    heartbeat = samples(latency, route="/api/v1/viewing-time/heartbeat", method="POST",
                        status="200")
    assert any(s.name.endswith("_count") and s.value == 2 for s in heartbeat)
    # Routes are labelled by template, never by raw path (bounded label set).
    routes = {s.labels["route"] for s in latency.samples}
    assert "/api/v1/viewing-time/balance/{profile_id}" in routes
    assert "unmatched" in routes
    assert not any(kid in route for route in routes)

    allowed = samples(found["vts_heartbeats"], enforcement="allowed")
    assert [s.value for s in allowed if s.name == "vts_heartbeats_total"] == [2]
    trips = found["vts_heartbeat_db_round_trips"]
    assert [s.value for s in trips.samples if s.name.endswith("_count")] == [2]
    assert [s.value for s in found["vts_config_cache_size"].samples] == [1]
    hot = samples(found["vts_db_pool_connections"], pool="hot")
    assert hot and hot[0].value >= 1
    assert samples(found["vts_db_pool_max_connections"], pool="orm")


async def test_prometheus_counters_follow_the_cache(client, parent, titles):
    kid = await parent.child()
    await parent.beat(kid, titles.cartoon)
    first = families((await client.get("/metrics")).text)
    await parent.balance(kid)
    await parent.balance(kid)
    second = families((await client.get("/metrics")).text)

    def hits(found) -> float:  # type: ignore[no-untyped-def]
        return next(s.value for s in found["vts_config_cache_hits"].samples
                    if s.name == "vts_config_cache_hits_total")

    assert hits(second) == hits(first) + 2
