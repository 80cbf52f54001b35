"""bcrypt for passwords and PINs, always on a small bounded pool off the event loop."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from passlib.hash import bcrypt

from app.settings import Settings


def _lower_priority() -> None:
    # Hashing threads yield the CPU to the event loop and PostgreSQL (a PIN burst may queue,
    # heartbeats must not slow down).
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)
    except (AttributeError, OSError):
        pass


MAX_SECRET_BYTES = 72  # bcrypt's limit
T = TypeVar("T")


class PasswordHasher:
    def __init__(self, pool: ThreadPoolExecutor, *, rounds: int) -> None:
        self._pool = pool
        self._bcrypt = bcrypt.using(rounds=rounds)
        self._dummy_hash = self._bcrypt.hash("timing-equaliser")
        self.queue_depth = 0

    async def _run(self, fn: Callable[..., T], *args: str) -> T:
        self.queue_depth += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, fn, *args)
        finally:
            self.queue_depth -= 1

    async def hash(self, secret: str) -> str:
        return await self._run(self._bcrypt.hash, secret)

    async def verify(self, secret: str, hashed: str | None) -> bool:
        """Constant-cost check: an absent hash still costs one bcrypt so timing says nothing.

        bcrypt refuses secrets over 72 bytes (ValueError). No stored secret is that long
        (registration and PINs refuse them), so such a secret is simply wrong: it gets the
        same answer, and costs the same bcrypt, as any other wrong one."""
        if hashed is None or len(secret.encode()) > MAX_SECRET_BYTES:
            await self._run(self._bcrypt.verify, "timing-equaliser", self._dummy_hash)
            return False
        return await self._run(self._bcrypt.verify, secret, hashed)


def init_hasher(settings: Settings) -> Iterator[PasswordHasher]:
    pool = ThreadPoolExecutor(
        max_workers=settings.hasher_threads, thread_name_prefix="hasher",
        initializer=_lower_priority,
    )
    try:
        yield PasswordHasher(pool, rounds=settings.bcrypt_rounds)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
