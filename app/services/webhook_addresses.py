"""Where a webhook URL leads: its host resolved off the event loop, every address checked.

Used when a subscription is made and again before every delivery, because a name can change
what it resolves to after it was checked (DNS rebinding). The delivery then connects to the
address checked here, not to a fresh lookup of the name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket

from app.domain.webhooks import Destination, InvalidWebhookUrl, refused_address

RESOLVE_TIMEOUT_SECONDS = 5.0
REFUSED = "must not resolve to a loopback, private, link-local, multicast or reserved address"


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


async def resolve(destination: Destination, *, allow_private: bool) -> list[str]:
    """The destination's addresses; InvalidWebhookUrl if it does not resolve or any address
    is one the operator's network could be reached by (unless `allow_private`)."""
    literal = _literal(destination.host)
    if literal is not None:
        addresses = [literal]
    else:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(RESOLVE_TIMEOUT_SECONDS):
                found = await loop.getaddrinfo(destination.host, destination.port,
                                               type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, TimeoutError):
            raise InvalidWebhookUrl("host does not resolve") from None
        addresses = list(dict.fromkeys(str(info[4][0]) for info in found))
        if not addresses:
            raise InvalidWebhookUrl("host does not resolve")
    # Every address, not only the first: a client may connect to any of them.
    if not allow_private and any(refused_address(a) for a in addresses):
        raise InvalidWebhookUrl(REFUSED)
    return addresses
