"""The demo data set: idempotent, so `make run` can load it on every start."""

from __future__ import annotations

import uuid

from app.domain.catalog import Title
from app.domain.errors import EmailTaken
from app.domain.schedules import WEEKDAYS
from app.repositories.accounts import AccountRepository
from app.services.accounts import AccountService
from app.services.catalog import ProfileService, TitleService
from app.services.devices import DeviceService
from app.services.viewing_configs import ViewingConfigService

DEMO_EMAIL = "parent@example.com"
DEMO_PASSWORD = "demo-password"
DEMO_PROFILES = [("Mia", True, "Europe/Berlin"), ("Leo", True, "America/New_York"),
                 ("Parent", False, "UTC")]
DEMO_TITLES = [("Ocean Explorers", True), ("Numbers in the Wild", True),
               ("Space Pirates", False), ("Dragon Friends", False), ("Race Day", False),
               ("The Funny Farm", False)]


DEMO_DEVICE = ("Mia", "Mia's TV")  # a player paired with Mia's profile
# Leo's week, set when his profile is created (a parent's later edits stay): an hour on school
# days, more at the weekend, and a 19:30 bedtime on school nights (Sunday to Thursday).
SCHOOL_NIGHTS = ("sun", "mon", "tue", "wed", "thu")
DEMO_SCHEDULE = ("Leo", {
    "limits": {"mon": 60, "tue": 60, "wed": 60, "thu": 60, "fri": 90, "sat": 120, "sun": 120},
    "allowed_hours": {day: [{"start": "07:00",
                             "end": "19:30" if day in SCHOOL_NIGHTS else "21:00"}]
                      for day in WEEKDAYS},
})


def demo_title_id(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"viewing-time-service/demo/{name}")


async def seed_demo(*, accounts: AccountService, account_repo: AccountRepository,
                    profiles: ProfileService, titles: TitleService,
                    devices: DeviceService,
                    configs: ViewingConfigService) -> dict[str, object]:
    try:
        await accounts.register(email=DEMO_EMAIL, password=DEMO_PASSWORD)
    except EmailTaken:
        pass
    account = await account_repo.get_by_email(DEMO_EMAIL)
    assert account is not None
    existing = {p.name for p in await profiles.list(account.id)}
    for name, is_kids, zone in DEMO_PROFILES:
        if name not in existing:
            created = await profiles.create(account.id, name=name, is_kids=is_kids, timezone=zone)
            if name == DEMO_SCHEDULE[0]:
                await configs.set_schedule(account.id, created.id, **DEMO_SCHEDULE[1])
    await titles.upsert([Title(id=demo_title_id(name), title=name, is_educational=edu)
                         for name, edu in DEMO_TITLES])
    listed = await profiles.list(account.id)
    child = next(p for p in listed if p.name == DEMO_DEVICE[0])
    paired = [d for d in await devices.list(account.id, child.id) if d.name == DEMO_DEVICE[1]]
    device = paired[0] if paired else (await devices.pair(
        account.id, child.id, name=DEMO_DEVICE[1], device_type="tv")).device
    return {"email": DEMO_EMAIL, "password": DEMO_PASSWORD, "profiles": listed,
            "titles": {name: demo_title_id(name) for name, _ in DEMO_TITLES},
            "device": device, "device_token": devices.token_for(device)}
