"""The channel registry: which channel reaches a staff member privately, and the console
delivery log used until WeCom and Telegram are configured."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from crm_store.db import Database
from crm_store.models import ChannelIdentity
from crm_store.private_files import private_file
from handlers.contracts import Channel
from handlers.guard import GuardedReply, require_guarded
from scheduler.delivery import Route

CONSOLE = "console"
DELIVERY_LOG = "deliveries.jsonl"


class ConsoleDeliveryChannel:
    """Records each delivery as one JSON line in a file under BANKBOT_HOME."""

    name = CONSOLE

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    async def send(self, recipient: str, reply: GuardedReply) -> None:
        """Append the delivery to the log (flushed, so a crash right after keeps it)."""
        reply = require_guarded(reply)
        record = {
            "at": datetime.now(UTC).isoformat(timespec="seconds"),
            "recipient": recipient,
            "text": reply.text,
            "events": [e.as_dict() for e in reply.events],
        }
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self._lock, private_file(self.path).open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()


class ChannelRegistry:
    """Routes a staff member to the first configured channel they are bound on."""

    def __init__(
        self, db: Database, channels: Mapping[str, Channel], preference: Sequence[str]
    ) -> None:
        self.db = db
        self.channels = dict(channels)
        self.preference = [name for name in preference if name in self.channels]

    def route(self, staff_id: str) -> Route | None:
        """The staff member's own address on the preferred channel; never a group chat."""
        with self.db.read() as session:
            rows = session.execute(
                select(ChannelIdentity.channel, ChannelIdentity.external_id).where(
                    ChannelIdentity.staff_id == staff_id
                )
            ).all()
        bound = {channel: external_id for channel, external_id in rows}
        for name in self.preference:
            if name == CONSOLE:
                return Route(self.channels[name], staff_id)
            if name in bound:
                return Route(self.channels[name], bound[name])
        return None
