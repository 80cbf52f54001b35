"""An account's parental PIN: its hash, the failed-attempt counter and the lockout.

The counter lives in the database and moves only by single UPDATE statements whose WHERE
clause re-checks the lock: PostgreSQL serialises them on the account row and re-evaluates the
condition after waiting, so any number of parallel wrong guesses (on any number of replicas)
count exactly, and none is counted once the lock has engaged. The failure that engages it
writes the `pin.locked` event in its own transaction.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.domain.pins import Failure, PinState
from app.domain.webhooks import pin_locked_data
from app.repositories.webhook_outbox import enqueue_event

READ_STATE = text("""
    SELECT email, pin_hash, password_hash, failed_pin_attempts, pin_locked_until
    FROM accounts WHERE id = :id
""")

# One more failure, unless the PIN is locked (then nothing changes and no row comes back). An
# expired lock starts a fresh count; reaching :max_attempts engages a new lock.
RECORD_FAILURE = text("""
    UPDATE accounts
    SET failed_pin_attempts = CASE WHEN pin_locked_until IS NULL THEN failed_pin_attempts + 1
                                   ELSE 1 END,
        pin_locked_until = CASE
            WHEN (CASE WHEN pin_locked_until IS NULL THEN failed_pin_attempts + 1 ELSE 1 END)
                 >= :max_attempts
            THEN CAST(:now AS timestamptz) + CAST(:lock_for AS interval)
        END
    WHERE id = :id AND (pin_locked_until IS NULL OR pin_locked_until <= :now)
    RETURNING failed_pin_attempts, pin_locked_until
""")

# A right PIN resets the counter (and may store a new PIN), but only if the PIN is still the
# one that was checked and no parallel wrong guess has locked it meanwhile.
RECORD_SUCCESS = text("""
    UPDATE accounts
    SET failed_pin_attempts = 0, pin_locked_until = NULL,
        pin_hash = coalesce(CAST(:new_hash AS text), pin_hash)
    WHERE id = :id AND pin_hash = :checked_hash
      AND (pin_locked_until IS NULL OR pin_locked_until <= :now)
    RETURNING id
""")

SET_FIRST = text("""
    UPDATE accounts SET pin_hash = :new_hash, failed_pin_attempts = 0, pin_locked_until = NULL
    WHERE id = :id AND pin_hash IS NULL
    RETURNING id
""")

RESET = text("""
    UPDATE accounts SET pin_hash = :new_hash, failed_pin_attempts = 0, pin_locked_until = NULL
    WHERE id = :id AND password_hash = :checked_password_hash
    RETURNING id
""")


class PinRepository:
    def __init__(self, session_factory: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = session_factory

    async def state(self, account_id: uuid.UUID) -> PinState | None:
        async with self._sessions() as session:
            row = (await session.execute(READ_STATE, {"id": account_id})).first()
        if row is None:
            return None
        return PinState(row.email, row.pin_hash, row.password_hash, row.failed_pin_attempts,
                        row.pin_locked_until)

    async def record_failure(self, account_id: uuid.UUID, *, now: datetime, max_attempts: int,
                             lock_for: timedelta) -> Failure:
        async with self._sessions.begin() as session:
            row = (await session.execute(RECORD_FAILURE, {
                "id": account_id, "now": now, "max_attempts": max_attempts, "lock_for": lock_for,
            })).first()
            if row is not None:
                if row.pin_locked_until is not None:  # this failure engaged the lock
                    await enqueue_event(session, account_id=account_id, event_type="pin.locked",
                                        data=pin_locked_data(account_id, row.pin_locked_until),
                                        at=now)
                return Failure(True, row.failed_pin_attempts, row.pin_locked_until)
            # Locked meanwhile. A new statement takes a new snapshot, so it sees that lock.
            current = (await session.execute(READ_STATE, {"id": account_id})).first()
        if current is None:
            return Failure(False, 0, None)
        return Failure(False, current.failed_pin_attempts, current.pin_locked_until)

    async def record_success(self, account_id: uuid.UUID, *, now: datetime, checked_hash: str,
                             new_hash: str | None = None) -> bool:
        async with self._sessions.begin() as session:
            row = (await session.execute(RECORD_SUCCESS, {
                "id": account_id, "now": now, "checked_hash": checked_hash, "new_hash": new_hash,
            })).first()
        return row is not None

    async def set_first(self, account_id: uuid.UUID, *, new_hash: str) -> bool:
        """Store the first PIN; False when the account already has one (set meanwhile)."""
        async with self._sessions.begin() as session:
            params = {"id": account_id, "new_hash": new_hash}
            row = (await session.execute(SET_FIRST, params)).first()
        return row is not None

    async def reset(self, account_id: uuid.UUID, *, new_hash: str,
                    checked_password_hash: str) -> bool:
        """New PIN and no lock, if the password checked is still the account's."""
        async with self._sessions.begin() as session:
            row = (await session.execute(RESET, {
                "id": account_id, "new_hash": new_hash,
                "checked_password_hash": checked_password_hash,
            })).first()
        return row is not None
