"""What every handler receives: the open session, the actor, the message and the clock."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from crm_store.permissions import Actor
from crm_store.settings import Settings
from handlers.contracts import IncomingMessage

if TYPE_CHECKING:
    from retrieval.search import Retriever


@dataclass(frozen=True)
class Context:
    """One request's dependencies, passed explicitly (no globals)."""

    session: Session
    actor: Actor
    message: IncomingMessage
    now: datetime  # aware, in the business time zone
    lang: str = "zh"
    retriever: Retriever | None = None  # None: no note index configured
    settings: Settings | None = None  # None: the defaults (thresholds of churn warnings)

    @property
    def config(self) -> Settings:
        """The settings, or their defaults when the caller gave none."""
        return self.settings or Settings.model_construct()

    @property
    def today(self) -> date:
        """The business date of this request."""
        return self.now.date()

    @property
    def tz(self) -> tzinfo:
        """The business time zone (`now`'s)."""
        return self.now.tzinfo or UTC

    @property
    def channel(self) -> str:
        """The channel the request came from."""
        return self.message.channel

    def midnight(self, day: date) -> datetime:
        """The start of a business day, as an aware instant."""
        return datetime.combine(day, time.min, tzinfo=self.tz)

    def span(self, first: date, last: date) -> tuple[datetime, datetime]:
        """From the start of `first` to the end of `last` (business days), end exclusive."""
        return self.midnight(first), self.midnight(last + timedelta(days=1))


def typed_days(args: Mapping[str, str], prefix: str = "") -> tuple[date, date, str] | None:
    """The period the understanding read into `args` (`from`, `to`, `words`, with an optional
    key prefix, handlers/understanding/decide.py `_period_args`), or None."""
    first, last = args.get(f"{prefix}from"), args.get(f"{prefix}to")
    if not (first and last):
        return None
    return date.fromisoformat(first), date.fromisoformat(last), args.get(f"{prefix}words", "")
