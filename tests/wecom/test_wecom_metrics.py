"""`/metrics` and `/healthz` after real work: a WeCom callback answered, digests delivered by
another command on the same database, a note change waiting for the index."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import httpx
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from bot.cli import app
from bot.serve import build_server
from crm_store.models import Digest, IndexOutbox
from crm_store.settings import Settings
from crm_store.store import open_store
from tests.conftest import make_settings
from tests.scheduler.helpers import SHANGHAI, add_followup
from tests.wecom.fakes import FakeWeCom, envelope, serve, text_xml, wait_until
from tests.wecom.test_wecom_reminders import TUESDAY, USERS, bind, deployment_env, wecom_env
from tests.world import build_world


def samples(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample /metrics serves, by name and labels."""
    text = httpx.get(f"{url}/metrics").text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_metrics_have_samples_after_real_work(settings: Settings, fake: FakeWeCom) -> None:
    plain = open_store(settings)
    build_world(plain)
    add_followup(plain, "c3", "rm2", TUESDAY, "回访王芳")  # rm2 is bound nowhere
    bind(plain, USERS)
    plain.close()
    store = open_store(make_settings(settings.home, settings.db_url, **wecom_env(fake)))
    try:
        # Digests delivered by another command: the server's figures come from SQL.
        env = deployment_env(settings, fake)
        run = CliRunner().invoke(app, ["reminders", "run", "--date", TUESDAY.isoformat()], env=env)
        assert run.exit_code == 0, run.output
        now = datetime.now(UTC)
        with store.db.write() as s:
            s.add(
                IndexOutbox(
                    note_id="n-late", action="upsert", created_at=now - timedelta(minutes=2)
                )
            )
            today = datetime.now(SHANGHAI).date()
            s.add(
                Digest(
                    recipient_staff_id="rm2",
                    business_date=today,
                    status="undeliverable",
                    attempts=1,
                    next_attempt_at=now,
                    late=False,
                    item_count=0,
                    last_error="no channel",
                    created_at=now,
                )
            )
        with serve(build_server(store, with_timer=False)) as url:
            params, body = envelope(
                text_xml("LiNa", "查一下张伟", "8800000000000000001", int(time.time()))
            )
            assert (
                httpx.post(f"{url}/wecom/callback", params=params, content=body).status_code == 200
            )
            wait_until(lambda: len(fake.sent("LiNa")) == 2)  # the digest, then the answer
            figures = samples(url)
            health = httpx.get(f"{url}/healthz").json()
        assert (
            figures[("bankbot_callbacks_total", (("channel", "wecom"), ("outcome", "accepted")))]
            >= 1
        )
        assert figures[("bankbot_replies_total", (("channel", "wecom"), ("result", "sent")))] >= 1
        assert figures[("bankbot_digests_delivered_total", ())] >= 1
        assert figures[("bankbot_digests_failed_total", ())] == 0
        assert figures[("bankbot_digests", (("status", "undeliverable"),))] >= 2
        assert figures[("bankbot_index_outbox_pending", ())] == 1
        assert figures[("bankbot_index_lag_seconds", ())] >= 120
        assert health["digests_undeliverable"] == 1
    finally:
        store.close()
