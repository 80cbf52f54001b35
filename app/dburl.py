"""PostgreSQL URL forms for each client, including URLs that name several hosts.

A libpq-style URL may list hosts in its netloc (`postgresql://u@h1:5432,h2:5433/db`); asyncpg
reads that form itself, SQLAlchemy's asyncpg dialect wants them as `?host=h1,h2&port=p1,p2`
instead (and the service's own `database.connect` tries them one at a time).
`urlsplit(url).hostname` and `.port` cannot read a host list (the port of "h1:5432,h2:5433" is
not a number), so nothing in the service should call them on a database URL.

With several hosts and no `target_session_attrs`, a default is added so that a standby (or a
read-only former primary) is never picked for writes: the driver tries the hosts in order and
keeps the first that matches. Pure functions, no I/O: settings validation uses them too.
Host lists in the query (`?host=h1,h2`) are passed on as they are, not rewritten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

# What a URL for the primary (DATABASE_URL, DATABASE_LISTEN_URL) gets when it names several
# hosts: only a server that accepts writes (not in recovery, not default read-only).
PRIMARY_ATTRS = "read-write"
# The read URL (DATABASE_READ_URL) with several hosts: the first host that answers, whatever
# its role; list the standbys first and the primary last to prefer them.
READ_ATTRS = "any"
# With several hosts, each may take this long to connect before the next is tried (the
# DB_HOST_TIMEOUT_SECONDS default; migrations, which read no settings, use it as it is).
HOST_TIMEOUT_SECONDS = 1.0
# The values asyncpg accepts (asyncpg.connect_utils.SessionAttribute).
SESSION_ATTRS = ("any", "primary", "standby", "prefer-standby", "read-write", "read-only")
SCHEMES = ("postgresql", "postgres", "postgresql+asyncpg")
DEFAULT_PORT = 5432
_HOSTSPEC = re.compile(r"^(?:\[(?P<v6>[^\]]+)\]|(?P<name>[^:\[\]]*))(?::(?P<port>\d+))?$")


@dataclass(frozen=True)
class Host:
    host: str  # a name, an address (IPv6 without brackets), or "" (libpq's default)
    port: int | None

    def spec(self, default_port: int | None = None) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = self.port if self.port is not None else default_port
        return host if port is None else f"{host}:{port}"


@dataclass(frozen=True)
class DatabaseUrl:
    """A PostgreSQL URL split into the parts each client spells differently."""

    scheme: str
    userinfo: str  # "user" or "user:password", still percent-encoded; "" if none
    hosts: tuple[Host, ...]  # from the netloc; empty when the host is a ?host= parameter
    path: str
    query: tuple[tuple[str, str], ...]

    @property
    def multi_host(self) -> bool:
        return len(self.hosts) > 1 or any("," in v for k, v in self.query if k == "host")

    def with_default_attrs(self, attrs: str) -> DatabaseUrl:
        """The URL with `target_session_attrs=attrs` if it names several hosts and sets none."""
        if not self.multi_host or any(k == "target_session_attrs" for k, _ in self.query):
            return self
        return DatabaseUrl(self.scheme, self.userinfo, self.hosts, self.path,
                           (*self.query, ("target_session_attrs", attrs)))

    def attrs(self) -> str | None:
        return next((v for k, v in self.query if k == "target_session_attrs"), None)

    def each_host(self) -> list[str]:
        """One libpq URL per host of the netloc, in order, each asking for the URL's
        target_session_attrs; `prefer-standby` becomes every host as `standby`, then every
        host as `any` (on one host asyncpg would take whatever it finds). A URL whose hosts
        are a ?host= list stays whole: the driver walks that list itself."""
        if len(self.hosts) <= 1:
            return [self.libpq()]
        passes = ("standby", "any") if self.attrs() == "prefer-standby" else (self.attrs(),)
        rest = tuple((k, v) for k, v in self.query if k != "target_session_attrs")
        return [DatabaseUrl(self.scheme, self.userinfo, (host,), self.path,
                            rest if attrs is None else (*rest, ("target_session_attrs", attrs))
                            ).libpq() for attrs in passes for host in self.hosts]

    def _join(self, scheme: str, hosts: str, query: tuple[tuple[str, str], ...]) -> str:
        netloc = f"{self.userinfo}@{hosts}" if self.userinfo else hosts
        query_string = f"?{urlencode(query, safe='/:,[]')}" if query else ""
        return f"{scheme}://{netloc}{self.path}{query_string}"  # "//" even with no netloc

    def libpq(self, scheme: str = "postgresql") -> str:
        """The libpq form (hosts in the netloc), which asyncpg reads itself."""
        return self._join(scheme, ",".join(h.spec() for h in self.hosts), self.query)

    def sqlalchemy(self) -> str:
        """SQLAlchemy's asyncpg form: several hosts become `host=h1,h2&port=p1,p2` (that form
        and not `host=h1:p1&host=h2:p2`, which cannot carry an IPv6 address), each with a port:
        the dialect wants all or none, so 5432 where the URL gives none."""
        if len(self.hosts) <= 1:
            return self.libpq("postgresql+asyncpg")
        hosts = (("host", ",".join(h.host for h in self.hosts)),
                 ("port", ",".join(str(h.port or DEFAULT_PORT) for h in self.hosts)))
        return self._join("postgresql+asyncpg", "", (*hosts, *self.query))


def parse(url: str) -> DatabaseUrl:
    """Split a PostgreSQL URL; ValueError (with a readable message) if it is not one."""
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES:
        raise ValueError("must be a postgresql://user:password@host:port/dbname URL")
    userinfo, _, hostlist = parts.netloc.rpartition("@")
    hosts = tuple(_host(spec) for spec in hostlist.split(",")) if hostlist else ()
    if len(hosts) > 1 and not all(h.host for h in hosts):
        raise ValueError("every host in a list of hosts needs a name")
    query = tuple(parse_qsl(parts.query, keep_blank_values=True))
    if hosts and any(k == "host" for k, _ in query):
        raise ValueError("name the hosts either in the URL or in ?host=, not both")
    for key, value in query:
        if key == "target_session_attrs" and value not in SESSION_ATTRS:
            raise ValueError(f"target_session_attrs must be one of {', '.join(SESSION_ATTRS)}")
    return DatabaseUrl(parts.scheme, userinfo, hosts, parts.path, query)


def _host(spec: str) -> Host:
    match = _HOSTSPEC.match(spec)
    if match is None:
        raise ValueError(f"not a host[:port]: {spec!r}")
    port = match["port"]
    if port is not None and not 0 < int(port) < 65536:
        raise ValueError(f"not a port number: {port}")
    return Host(match["v6"] or match["name"] or "", int(port) if port else None)
