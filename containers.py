"""The composition root: the only place engines, pools, caches and services are built."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from app.auth import BearerBackend
from app.database import asyncpg_dsn, init_engine, init_hot_pool, init_read_engine
from app.migrations import head_revision
from app.prometheus import init_exporter
from app.repositories.accounts import AccountRepository
from app.repositories.devices import DeviceRepository
from app.repositories.grants import GrantRepository
from app.repositories.health import HealthRepository
from app.repositories.heartbeats import HeartbeatRepository, prepare_hot_statements
from app.repositories.live_sessions import LiveSessionRepository
from app.repositories.pins import PinRepository
from app.repositories.profile_facts import ConfigChangeListener, ProfileFactsRepository
from app.repositories.profiles import ProfileRepository
from app.repositories.reports import ReportRepository
from app.repositories.retention import RetentionRepository
from app.repositories.sign_in_failures import SignInFailureRepository
from app.repositories.time_requests import TimeRequestRepository
from app.repositories.titles import TitleRepository
from app.repositories.viewing_configs import ViewingConfigRepository
from app.repositories.webhook_deliveries import WebhookDeliveryRepository
from app.repositories.webhook_subscriptions import WebhookSubscriptionRepository
from app.routes import PUBLIC_PATHS
from app.services.accounts import AccountService
from app.services.catalog import ProfileService, TitleService
from app.services.clock import SystemClock
from app.services.config_cache import ConfigProvider
from app.services.devices import DeviceRegistry, DeviceService
from app.services.grants import GrantService
from app.services.hasher import init_hasher
from app.services.health import HealthService
from app.services.metrics import MetricsCollector
from app.services.pins import PinService
from app.services.reports import ReportService
from app.services.retention import RetentionService
from app.services.throttle import LoginThrottle
from app.services.time_requests import TimeRequestService
from app.services.tokens import TokenService
from app.services.viewing_configs import ViewingConfigService
from app.services.viewing_time import ViewingTimeService
from app.services.webhook_delivery import WebhookWorker
from app.services.webhooks import WebhookService
from app.settings import Settings, load_settings
from dependency_injector import containers, providers
from sqlalchemy.ext.asyncio import async_sessionmaker


async def init_config_listener(settings: Settings,
                               configs: ConfigProvider) -> AsyncIterator[ConfigChangeListener]:
    """Cross-replica cache invalidation: LISTEN for changed profiles and deleted devices (both
    named by their id; the config cache passes them on to the device registry) for the app's
    lifetime."""
    # LISTEN holds a session, so behind a transaction-mode pooler it connects around it.
    listen_url = settings.database_listen_url or settings.database_url or ""
    listener = ConfigChangeListener(asyncpg_dsn(listen_url),
                                    on_change=configs.invalidate, on_reconnect=configs.clear,
                                    retry_seconds=settings.db_retry_interval_seconds,
                                    host_timeout=settings.db_host_timeout_seconds)
    listener.start()
    try:
        yield listener
    finally:
        await listener.stop()


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=value)


class Container(containers.DeclarativeContainer):
    wiring_config = containers.WiringConfiguration(packages=["app.endpoints"])

    settings = providers.Singleton(load_settings)
    clock = providers.Singleton(SystemClock)
    metrics = providers.Singleton(MetricsCollector)

    # Resources: opened by the app's lifespan, closed on shutdown.
    engine = providers.Resource(init_engine, settings)
    # DATABASE_READ_URL's engine, or `engine` itself: only for reads that may lag a second.
    read_engine = providers.Resource(init_read_engine, settings, engine)
    hot_pool = providers.Resource(init_hot_pool, settings, prepare=prepare_hot_statements)
    hasher = providers.Resource(init_hasher, settings)

    session_factory = providers.Singleton(async_sessionmaker, engine, expire_on_commit=False)
    read_sessions = providers.Singleton(async_sessionmaker, read_engine, expire_on_commit=False)
    tokens = providers.Singleton(TokenService, settings, clock)
    auth_backend = providers.Singleton(BearerBackend, tokens, public_paths=PUBLIC_PATHS)

    # Repositories: all the SQL.
    accounts = providers.Factory(AccountRepository, session_factory)
    profiles = providers.Factory(ProfileRepository, session_factory)
    titles = providers.Factory(TitleRepository, session_factory, reads=read_sessions)
    pins = providers.Factory(PinRepository, session_factory)
    viewing_configs = providers.Factory(ViewingConfigRepository, session_factory)
    grants = providers.Factory(GrantRepository, session_factory, reads=read_sessions)
    reports = providers.Factory(ReportRepository, read_sessions)  # history and weekly reports
    health_repository = providers.Factory(HealthRepository, engine)
    sign_in_failures = providers.Factory(SignInFailureRepository, engine)
    profile_facts = providers.Singleton(ProfileFactsRepository, hot_pool)
    heartbeats = providers.Factory(
        HeartbeatRepository,
        hot_pool,
        interval=providers.Factory(_seconds, settings.provided.heartbeat_interval_seconds),
        pause_grace=providers.Factory(_seconds, settings.provided.pause_grace_seconds),
        stale_gap=providers.Factory(_seconds, settings.provided.stale_gap_seconds),
    )

    devices = providers.Factory(DeviceRepository, session_factory, hot_pool)
    device_registry = providers.Singleton(
        DeviceRegistry, devices=devices, clock=clock,
        ttl_seconds=settings.provided.device_cache_ttl_seconds,
        max_size=settings.provided.config_cache_max_size,
    )
    config_provider = providers.Singleton(
        ConfigProvider,
        load=profile_facts.provided.load,
        publish=profile_facts.provided.publish_change,
        ttl_seconds=settings.provided.config_cache_ttl_seconds,
        max_size=settings.provided.config_cache_max_size,
        clock=clock,
        dependents=providers.List(device_registry),
    )
    config_listener = providers.Resource(init_config_listener, settings, config_provider)

    # Services: the rules.
    # Counted in PostgreSQL, so all replicas share one budget (app/services/throttle.py).
    login_throttle = providers.Singleton(
        LoginThrottle, failures=sign_in_failures, clock=clock,
        max_failures=settings.provided.login_max_failures,
        window_seconds=settings.provided.login_window_seconds,
    )
    account_service = providers.Singleton(
        AccountService, accounts=accounts, hasher=hasher, tokens=tokens, clock=clock,
        throttle=login_throttle,
    )
    profile_service = providers.Singleton(
        ProfileService, profiles=profiles, configs=config_provider, clock=clock
    )
    title_service = providers.Singleton(TitleService, titles=titles)
    device_service = providers.Singleton(
        DeviceService, devices=devices, configs=config_provider, tokens=tokens, clock=clock,
    )
    viewing_time = providers.Singleton(
        ViewingTimeService, heartbeats=heartbeats,
        live=providers.Factory(LiveSessionRepository, session_factory), configs=config_provider,
        clock=clock, metrics=metrics,
    )
    health = providers.Singleton(
        HealthService, health=health_repository, head_revision=providers.Callable(head_revision)
    )
    # Parental controls.
    pin_service = providers.Singleton(PinService, pins=pins, hasher=hasher, tokens=tokens,
                                      clock=clock, throttle=login_throttle)
    viewing_config_service = providers.Singleton(
        ViewingConfigService, configs=viewing_configs, provider=config_provider,
        pins=pin_service, clock=clock,
    )
    grant_service = providers.Singleton(
        GrantService, grants=grants, configs=config_provider, pins=pin_service, clock=clock
    )
    time_request_service = providers.Singleton(
        TimeRequestService, requests=providers.Factory(TimeRequestRepository, session_factory),
        configs=config_provider, clock=clock, metrics=metrics,
        ttl_seconds=settings.provided.time_request_ttl_seconds,
    )
    report_service = providers.Singleton(
        ReportService, reports=reports, configs=config_provider, clock=clock, metrics=metrics
    )
    # Webhooks: subscriptions, and the delivery worker the app's lifespan runs in every replica.
    webhook_service = providers.Singleton(
        WebhookService, subscriptions=providers.Factory(WebhookSubscriptionRepository,
                                                        session_factory),
        clock=clock, allow_private=settings.provided.webhook_allow_private,
    )
    webhook_worker = providers.Singleton(
        WebhookWorker, deliveries=providers.Factory(WebhookDeliveryRepository, session_factory),
        clock=clock, metrics=metrics, allow_private=settings.provided.webhook_allow_private,
        poll_seconds=settings.provided.webhook_poll_seconds,
    )
    # Data minimisation: `sweep` deletes history older than RETENTION_DAYS.
    retention_repository = providers.Factory(RetentionRepository, session_factory)
    retention = providers.Singleton(
        RetentionService, retention=retention_repository, clock=clock,
        retention_days=settings.provided.retention_days,
    )
    # Observability: /metrics samples the cache, the hasher and both pools at scrape time.
    prometheus = providers.Resource(init_exporter, metrics=metrics, cache=config_provider,
                                    hasher=hasher, hot_pool=hot_pool, engine=engine,
                                    read_engine=read_engine)


# dependency-injector types these as "an awaitable, or None when no resource is async"; ours are
# async (pools, listener), so there is always something to await.
async def open_resources(container: Container) -> None:
    opening = container.init_resources()
    if opening is not None:
        await opening


async def close_resources(container: Container) -> None:
    closing = container.shutdown_resources()
    if closing is not None:
        await closing
