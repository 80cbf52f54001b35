"""Small helpers that drive the HTTP API the way apps do."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from containers import Container

API = "/api/v1"
PASSWORD = "correct-horse-battery"


@dataclass
class Parent:
    client: httpx.AsyncClient
    account_id: str
    email: str
    headers: dict[str, str]

    async def login(self) -> None:
        """Fresh token (after the frozen clock jumped past the old one's expiry)."""
        self.headers = await _login(self.client, self.email)

    async def child(self, name: str = "Kid", timezone: str = "UTC") -> str:
        r = await self.client.post(f"{API}/profiles", headers=self.headers,
                                   json={"name": name, "is_kids": True, "timezone": timezone})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def adult(self, name: str = "Grown-up") -> str:
        r = await self.client.post(f"{API}/profiles", headers=self.headers,
                                   json={"name": name, "is_kids": False})
        assert r.status_code == 201, r.text
        return r.json()["id"]

    async def beat(self, profile_id: str, title_id: str, session_id: str | None = None,
                   **extra: object) -> httpx.Response:
        body: dict[str, object] = {"profile_id": profile_id, "title_id": title_id,
                                   "device_id": extra.pop("device_id", "tv-1")}
        if session_id is not None:
            body["session_id"] = session_id
        body.update(extra)
        return await self.client.post(f"{API}/viewing-time/heartbeat", headers=self.headers,
                                      json=body)

    async def end(self, session_id: str) -> httpx.Response:
        return await self.client.post(f"{API}/viewing-time/session/{session_id}/end",
                                      headers=self.headers)

    async def pair(self, profile_id: str, name: str = "Living-room TV",
                   device_type: str = "tv") -> dict:
        """Pair a player with the profile: the new device, with its `device_token`."""
        r = await self.client.post(f"{API}/profiles/{profile_id}/devices", headers=self.headers,
                                   json={"name": name, "device_type": device_type})
        assert r.status_code == 201, r.text
        return r.json()

    async def balance(self, profile_id: str) -> dict:
        r = await self.client.get(f"{API}/viewing-time/balance/{profile_id}", headers=self.headers)
        assert r.status_code == 200, r.text
        return r.json()


async def signed_up(client: httpx.AsyncClient, email: str) -> Parent:
    r = await client.post(f"{API}/auth/register", json={"email": email, "password": PASSWORD})
    assert r.status_code == 201, r.text
    account_id = r.json()["id"]
    return Parent(client, account_id, email, await _login(client, email))


async def _login(client: httpx.AsyncClient, email: str) -> dict[str, str]:
    r = await client.post(f"{API}/auth/login", json={"email": email, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def make_admin(container: Container, parent: Parent) -> None:
    repo = await container.accounts()
    await repo.set_admin(uuid.UUID(parent.account_id), password_hash=None)


@dataclass
class Titles:
    cartoon: str
    documentary: str  # educational


async def seed_titles(container: Container) -> Titles:
    cartoon, documentary = uuid.uuid4(), uuid.uuid4()
    repo = await container.titles()
    await repo.upsert_many([(cartoon, "Cartoon", False), (documentary, "Documentary", True)])
    return Titles(str(cartoon), str(documentary))
