"""Summarise a py-spy profile of the service under load: where a heartbeat's CPU goes.

    py-spy record -p PID -d 10 -r 200 -f raw -o prof.raw   # collapsed stacks
    python -m bench.profile prof.raw [--top 25]

Prints the share of samples in which each function is on the stack (inclusive) and at the top
of the stack (self), idle time (the event loop waiting in epoll) shown apart.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

IDLE = re.compile(r"select \(selectors|_run_once.*epoll|run_forever \(asyncio/base_events|poll \(")


def _frame(raw: str) -> str:
    # "handle (app/endpoints/x.py:12)" -> "handle (app/endpoints/x.py)": group lines of a function
    return re.sub(r":\d+\)$", ")", raw.strip())


# Self time grouped by where the code lives: what the heartbeat pays for, layer by layer.
AREAS = [
    ("app: observability (access line, request id, metrics)",
     ("app/observability.py", "app/logs.py", "app/services/metrics.py", "logging/",
      "prometheus_client/")),
    ("app: the rest (endpoint, service, auth, responses, middleware)", ("app/",)),
    ("uvicorn + httptools (HTTP parsing, socket writes)", ("uvicorn/", "httptools")),
    ("starlette (middleware, routing, Request)", ("starlette/",)),
    ("dependency_injector (@inject)", ("dependency_injector/",)),
    ("pydantic (validation, serialisation)", ("pydantic",)),
    ("asyncpg (protocol, socket writes)", ("asyncpg/",)),
    ("asyncio / uvloop event loop", ("asyncio/", "uvloop")),
    ("jwt, orjson, cachetools, uuid, datetime", ("jwt/", "orjson", "cachetools/", "uuid.py",
                                                  "datetime", "zoneinfo")),
]
# Threads asleep with the GIL released (the log flusher, idle pool workers): not CPU.
IDLE_LEAVES = ("_flush_periodically (app/logs.py)", "Condition.wait (threading.py)")


def _area(frame: str) -> str:
    for name, markers in AREAS:
        if any(m in frame for m in markers):
            return name
    return "other"


def summarise(path: Path, top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    areas: Counter[str] = Counter()
    total = idle = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = [_frame(f) for f in stack.split(";") if f.strip()]
        if not frames:
            continue
        total += n
        if "select (selectors.py)" in frames[-1] or "epoll" in frames[-1] or \
                frames[-1].startswith("run_forever") or frames[-1].startswith("_run_once") or \
                frames[-1].endswith(IDLE_LEAVES):
            idle += n
            continue
        for f in set(frames):
            inclusive[f] += n
        self_time[frames[-1]] += n
        areas[_area(frames[-1])] += n
    busy = max(total - idle, 1)
    out = [f"{total} samples, {idle / max(total, 1):.0%} idle; shares below are of busy samples",
           "", f"{'self':>9}  by area"]
    out += [f"{n / busy:>9.1%}  {a}" for a, n in areas.most_common()]
    out += ["", f"{'inclusive':>9}  function"]
    out += [f"{n / busy:>9.1%}  {f}" for f, n in inclusive.most_common(top)]
    out += ["", f"{'self':>9}  function"]
    out += [f"{n / busy:>9.1%}  {f}" for f, n in self_time.most_common(top)]
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("raw", type=Path)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    print(summarise(args.raw, args.top))


if __name__ == "__main__":
    main()
