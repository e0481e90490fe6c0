"""What the index stores per note, and what a search returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crm_store.masking import mask_text
from crm_store.redaction import redact_secrets

META_KEYS = ("customer_id", "owner_staff_id", "team_id", "branch_id", "occurred_on", "staff_id")


def index_text(text: str) -> str:
    """What Chroma may hold of a note: phone, ID and card numbers masked, secrets redacted."""
    return redact_secrets(mask_text(text))


@dataclass(frozen=True)
class NoteEntry:
    """One note as the index needs it, read from SQL."""

    note_id: str
    customer_id: str
    owner_staff_id: str
    team_id: str  # the owner's team, "" if none
    branch_id: str
    staff_id: str  # who wrote the note
    occurred_on: int  # business date as YYYYMMDD
    text: str

    def metadata(self) -> dict[str, str | int]:
        """Scalar metadata for permission scoping and dates."""
        return {
            "customer_id": self.customer_id,
            "owner_staff_id": self.owner_staff_id,
            "team_id": self.team_id,
            "branch_id": self.branch_id,
            "occurred_on": self.occurred_on,
            "staff_id": self.staff_id,
        }

    def document(self) -> str:
        """The text stored and embedded."""
        return index_text(self.text)


@dataclass(frozen=True)
class Hit:
    """One retrieved note; `score` is the cosine similarity (higher is closer). The caller
    still re-checks `customer_id` against SQL before the text goes anywhere."""

    note_id: str
    customer_id: str
    score: float
    text: str
    occurred_on: int


def make_hit(note_id: str, meta: Any, text: str | None, score: float) -> Hit:
    """A hit from Chroma's metadata and stored text."""
    meta = meta or {}
    occurred = meta.get("occurred_on", 0)
    return Hit(note_id, str(meta.get("customer_id", "")), score, text or "", int(occurred))
