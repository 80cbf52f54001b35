"""Typed settings read once from the environment (12-factor); values only, no objects."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app import dburl

# Used only when the embedded demo database runs and no JWT_SECRET is given.
DEMO_JWT_SECRET = "demo-only-secret-not-for-production-use-0123456789"


class SettingsError(Exception):
    """A bad setting, reported as one line at start-up."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=None, extra="ignore", frozen=True)

    database_url: str | None = None
    jwt_secret: str | None = None
    jwt_algorithm: str = "HS256"
    jwt_lifetime_seconds: int = Field(3600, ge=60, le=30 * 86400)
    pin_token_lifetime_seconds: int = Field(300, ge=30, le=3600)
    heartbeat_interval_seconds: int = Field(30, ge=5, le=300)
    pause_grace_seconds: int = Field(300, ge=0, le=3600)
    stale_gap_seconds: int = Field(300, ge=30, le=3600)
    sweep_interval_seconds: float = Field(60, gt=0, le=3600)
    config_cache_ttl_seconds: float = Field(60, gt=0, le=3600)
    config_cache_max_size: int = Field(10_000, ge=1, le=10_000_000)
    hasher_threads: int = Field(1, ge=1, le=64)
    bcrypt_rounds: int = Field(12, ge=4, le=16)
    db_pool_size: int = Field(10, ge=1, le=500)
    db_acquire_timeout_seconds: float = Field(2.0, gt=0, le=60)
    db_statement_timeout_seconds: float = Field(5.0, gt=0, le=300)
    db_retry_interval_seconds: float = Field(2.0, gt=0, le=300)
    # A database URL naming several hosts: how long each may take to connect before the next
    # is tried. Below DB_ACQUIRE_TIMEOUT_SECONDS, or a heartbeat's reconnect never gets past a
    # host that has stopped answering.
    db_host_timeout_seconds: float = Field(dburl.HOST_TIMEOUT_SECONDS, gt=0, le=60)
    # 0 behind a transaction-mode pooler older than PgBouncer 1.21 (see deploy/README.md): a
    # named prepared statement lives on one server connection, which the pooler reassigns.
    db_statement_cache_size: int = Field(100, ge=0, le=10_000)
    # LISTEN needs a session of its own: behind a transaction-mode pooler, point this at
    # PostgreSQL directly (or a session-mode pool). Unset: DATABASE_URL.
    database_listen_url: str | None = None
    # Reads that may lag a second (history, weekly reports, the grants list, title browsing)
    # go here, e.g. to a standby; unset, they use DATABASE_URL's pool.
    database_read_url: str | None = None
    # After SIGTERM: answer /readyz 503 and keep accepting this long, then finish in-flight
    # requests and exit. 0 under Kubernetes, where the preStop pause does this job.
    shutdown_drain_seconds: float = Field(0, ge=0, le=300)
    log_level: str = "INFO"
    cors_origins: str = ""
    max_body_bytes: int = Field(64 * 1024, ge=1024, le=16 * 1024 * 1024)
    # Failed sign-ins per email and per client address within the window before 429 (counted in
    # PostgreSQL, shared by every replica: see app/services/throttle.py and SECURITY.md).
    login_max_failures: int = Field(10, ge=1, le=10_000)
    login_window_seconds: int = Field(900, ge=1, le=86_400)
    # `sweep` deletes ended sessions, daily balances and grants older than this; 0 keeps all.
    retention_days: int = Field(400, ge=0, le=36_500)
    # Once every player is paired: the player endpoints (heartbeat, session end, eligibility)
    # refuse account tokens with 403.
    device_tokens_required: bool = False
    # How long each replica trusts that a device exists; a deletion reaches every replica at
    # once through NOTIFY, so this is only the safety net.
    device_cache_ttl_seconds: float = Field(300, gt=0, le=86_400)
    # Webhook destinations may be loopback, private or link-local addresses and plain http://
    # (tests, on-premises installs); off, only https:// to public addresses.
    webhook_allow_private: bool = False
    # How often each replica's delivery worker looks for due outbox rows.
    webhook_poll_seconds: float = Field(1.0, gt=0, le=3600)
    # A child's request for more time expires this long after it was made, or at the end of
    # its viewing day if that comes first; each replica expires due requests this often.
    time_request_ttl_seconds: int = Field(900, ge=10, le=86_400)
    time_request_sweep_interval_seconds: float = Field(15, gt=0, le=60)
    demo_mode: bool = False  # set by the CLI for the local demo (embedded database)

    @field_validator("database_url", "database_listen_url", "database_read_url")
    @classmethod
    def _plain_postgres_url(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        dburl.parse(value)  # a ValueError says what is wrong (several hosts are fine)
        return value

    @field_validator("log_level")
    @classmethod
    def _known_level(cls, value: str) -> str:
        value = value.upper()
        if value not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return value

    @model_validator(mode="after")
    def _secret_is_strong(self) -> Settings:
        if self.jwt_secret is None:
            if not self.demo_mode:
                raise ValueError("JWT_SECRET is required outside the embedded demo")
        elif self.jwt_algorithm.startswith("HS") and len(self.jwt_secret.encode()) < 32:
            raise ValueError("JWT_SECRET must be at least 32 bytes")
        return self

    @model_validator(mode="after")
    def _stale_gap_covers_a_beat(self) -> Settings:
        # Below one interval, a session on time would count as stale at every beat and each
        # beat would open a new window overlapping the one it already paid for.
        if self.stale_gap_seconds < self.heartbeat_interval_seconds:
            raise ValueError("STALE_GAP_SECONDS must be at least HEARTBEAT_INTERVAL_SECONDS")
        return self

    @property
    def signing_key(self) -> str:
        return self.jwt_secret or DEMO_JWT_SECRET

    @property
    def cors_origin_list(self) -> list[str]:
        return [o.strip() for o in self.cors_origins.split(",") if o.strip()]


def load_settings(**overrides: Any) -> Settings:
    """Read the environment; raise SettingsError with one readable line on a bad value."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'_'.join(str(p) for p in err['loc']).upper() or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise SettingsError(f"invalid configuration: {problems}") from None
