"""Customer tags: from import and from chat, merged so neither silently drops the other.

The merge rule: a customer's tags are the imported tags, minus those an RM removed in chat,
plus those an RM added in chat. A chat edit of a tag is remembered (`customer_tag_edit`,
the latest edit of each tag wins) and re-applied on every later import of that customer.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Table, select
from sqlalchemy.orm import Session

from crm_store.models import Customer, CustomerTagEdit

TAG_EDIT: Table = CustomerTagEdit.__table__  # type: ignore[assignment]
MAX_TAG_CHARS = 20
CHUNK = 500


def split_tags(tags: str | None) -> list[str]:
    """The tags of a `;`-separated cell, in order, without blanks or repeats."""
    seen: list[str] = []
    for tag in (tags or "").split(";"):
        tag = tag.strip()
        if tag and tag not in seen:
            seen.append(tag)
    return seen


def merge_tags(imported: str, edits: Iterable[tuple[str, str]]) -> str:
    """Imported tags with chat edits applied: (tag, "add" | "remove")."""
    tags = split_tags(imported)
    for tag, action in edits:
        if action == "remove" and tag in tags:
            tags.remove(tag)
        elif action == "add" and tag not in tags:
            tags.append(tag)
    return ";".join(tags)


def chat_edits(conn: Connection, customer_ids: list[str]) -> dict[str, list[tuple[str, str]]]:
    """customer id -> its chat tag edits, oldest first."""
    edits: dict[str, list[tuple[str, str]]] = {}
    for start in range(0, len(customer_ids), CHUNK):
        batch = customer_ids[start : start + CHUNK]
        query = (
            select(TAG_EDIT.c.customer_id, TAG_EDIT.c.tag, TAG_EDIT.c.action)
            .where(TAG_EDIT.c.customer_id.in_(batch))
            .order_by(TAG_EDIT.c.at)
        )
        for cid, tag, action in conn.execute(query):
            edits.setdefault(cid, []).append((tag, action))
    return edits


def apply_chat_edits(conn: Connection, rows: list[dict[str, object]]) -> None:
    """Merge the chat edits into imported customer rows (in place), before they are written."""
    edits = chat_edits(conn, [str(row["id"]) for row in rows])
    for row in rows:
        if str(row["id"]) in edits:
            row["tags"] = merge_tags(str(row["tags"] or ""), edits[str(row["id"])])


def edit_tag(
    session: Session, customer_id: str, tag: str, action: str, staff_id: str, now: datetime
) -> bool:
    """Add or remove one tag in chat; whether the customer's tags changed."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return False
    edit = session.get(CustomerTagEdit, (customer_id, tag))
    if edit is None:
        session.add(
            CustomerTagEdit(
                customer_id=customer_id, tag=tag, action=action, staff_id=staff_id, at=now
            )
        )
    else:
        edit.action, edit.staff_id, edit.at = action, staff_id, now
    before = customer.tags or ""
    customer.tags = merge_tags(before, [(tag, action)])
    return customer.tags != before
