"""`bankbot serve` wiring: platforms picked from settings, health and metrics endpoints."""

from __future__ import annotations

from starlette.testclient import TestClient

from bot.serve import build_server, platform_adapters
from crm_store.settings import Settings
from crm_store.store import Store
from tests.conftest import make_settings

WECOM = {
    "WECOM_CORP_ID": "ww1234567890abcdef",
    "WECOM_AGENT_ID": "1000002",
    "WECOM_SECRET": "s" * 43,
    "WECOM_TOKEN": "token123",
    "WECOM_AES_KEY": "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR",
}
TELEGRAM = {"TELEGRAM_BOT_TOKEN": "123:abc", "TELEGRAM_WEBHOOK_SECRET": "s3cret"}


def _store_with(store: Store, **extra: str) -> Store:
    settings: Settings = make_settings(store.settings.bankbot_home, store.settings.db_url, **extra)
    return Store(settings, store.db, store.cipher)


def test_no_platform_configured_serves_health_and_metrics(store: Store) -> None:
    assert platform_adapters(store) == []
    with TestClient(build_server(store, with_timer=False)) as client:
        health = client.get("/healthz")
        assert health.status_code == 200
        assert health.json()["database"] is True and health.json()["channels"] == {}
        assert "bankbot_callbacks_total" in client.get("/metrics").text
        assert client.post("/wecom/callback").status_code == 404


def test_configured_platforms_are_wired(store: Store) -> None:
    configured = _store_with(store, **WECOM, **TELEGRAM)
    names = [a.name for a in platform_adapters(configured)]
    assert names == ["wecom", "telegram"]
    paths = {getattr(r, "path", "") for r in build_server(configured, with_timer=False).routes}
    assert {"/wecom/callback", "/telegram/webhook", "/healthz", "/metrics"} <= paths


def test_timer_starts_and_stops_with_the_app(store: Store) -> None:
    with TestClient(build_server(store)) as client:
        assert client.get("/healthz").json()["timer"] is True
