"""`python -m app loadtest` against the app served by a real uvicorn on a local socket."""

from __future__ import annotations

import asyncio
import socket
import uuid

import pytest
import uvicorn

from app.cli import main, parser
from app.loadtest import LoadTest, LoadTestError

pytestmark = pytest.mark.anyio


@pytest.fixture
async def served(app):  # type: ignore[no-untyped-def]
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task


def loadtest_args(url: str, *extra: str):  # type: ignore[no-untyped-def]
    return parser().parse_args(["loadtest", "--url", url, *extra])


async def test_scheduled_viewers_open_then_continue_sessions(served, parent, titles, capsys,
                                                            container):
    token = parent.headers["Authorization"].split()[1]
    args = loadtest_args(served, "--token", token, "--title", titles.cartoon, "--profiles", "3",
                         "--rate", "30", "--duration", "1", "--connections", "4")
    await LoadTest(args).run()
    out = capsys.readouterr().out
    assert "creating 3 child profiles" in out
    assert "3 viewers, a heartbeat every 0.1 s each (30.0/s)" in out
    assert "errors: 0" in out and "enforcement: allowed" in out
    answered = int(out.split("answered ")[1].split()[0])
    assert 25 <= answered <= 31
    metrics = container.metrics()
    assert metrics.heartbeats == answered
    # One session per viewer: a first beat each, then continuing beats.
    profiles = (await parent.client.get("/api/v1/profiles", headers=parent.headers)).json()
    assert sum(p["is_kids"] for p in profiles) == 3


async def test_closed_loop_signs_in_and_reports_viewers_per_interval(served, parent, titles,
                                                                     capsys):
    args = loadtest_args(served, "--email", parent.email, "--password", "correct-horse-battery",
                         "--title", titles.cartoon, "--profiles", "2", "--max",
                         "--duration", "0.5", "--connections", "2")
    await LoadTest(args).run()
    out = capsys.readouterr().out
    assert "closed loop, 2 connections" in out and "errors: 0" in out
    assert "watching children" in out


async def test_closed_loop_uses_no_more_connections_than_viewers(served, parent, titles, capsys):
    # Regression: idle workers busy-looped, so 2 viewers on 16 connections managed ~2 req/s and
    # the sizing line claimed a tiny capacity.
    token = parent.headers["Authorization"].split()[1]
    args = loadtest_args(served, "--token", token, "--title", titles.cartoon, "--profiles", "2",
                         "--max", "--duration", "0.5", "--connections", "16")
    await LoadTest(args).run()
    out = capsys.readouterr().out
    assert "2 viewers, closed loop, 2 connections" in out and "errors: 0" in out
    assert int(out.split("answered ")[1].split()[0]) >= 10


async def test_never_spends_a_real_childs_time(served, parent, titles, capsys):
    mia = await parent.child("Mia")
    token = parent.headers["Authorization"].split()[1]
    args = loadtest_args(served, "--token", token, "--title", titles.cartoon, "--profiles", "2",
                         "--rate", "20", "--duration", "0.5", "--connections", "2")
    await LoadTest(args).run()
    assert "creating 2 child profiles" in capsys.readouterr().out
    assert (await parent.balance(mia))["used_minutes"] == 0
    profiles = (await parent.client.get("/api/v1/profiles", headers=parent.headers)).json()
    assert sorted(p["name"] for p in profiles) == ["Mia", "loadtest-0", "loadtest-1"]
    # A second run reuses its own profiles rather than creating more.
    await LoadTest(args).run()
    assert "creating" not in capsys.readouterr().out


async def test_without_credentials_it_signs_up_its_own_account_and_cleans_up(
        served, parent, titles, capsys):
    args = loadtest_args(served, "--title", titles.cartoon, "--profiles", "2", "--rate", "20",
                         "--duration", "0.5", "--connections", "2", "--cleanup")
    test = LoadTest(args)
    await test.run()
    out = capsys.readouterr().out
    assert "signed up loadtest-" in out and "errors: 0" in out
    assert "cleanup: deleted 2 loadtest profiles" in out
    mine = await test.call("GET", "/api/v1/profiles")
    assert mine == (200, [])
    theirs = (await parent.client.get("/api/v1/profiles", headers=parent.headers)).json()
    assert theirs == []


async def test_setup_problems_are_one_line(served, parent):
    token = parent.headers["Authorization"].split()[1]
    with pytest.raises(LoadTestError, match="title .*: 404"):
        await LoadTest(loadtest_args(served, "--token", token, "--title",
                                     str(uuid.uuid4()))).run()
    with pytest.raises(LoadTestError, match="login failed: 401"):
        await LoadTest(loadtest_args(served, "--email", parent.email, "--password", "wrong-pw",
                                     "--title", str(uuid.uuid4()))).run()


def test_bad_arguments_exit_2(capsys):
    assert main(["loadtest", "--url", "ftp://x", "--title", "t", "--token", "x"]) == 2
    assert capsys.readouterr().err == "error: not an http(s) URL: ftp://x\n"
    with pytest.raises(SystemExit) as exit_:
        main(["loadtest", "--url", "http://x", "--title", "t", "--rate", "0"])
    assert exit_.value.code == 2
