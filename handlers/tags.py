"""Tags from chat: '给张伟打标签 高净值', '去掉张伟的标签 高净值', '高净值客户有哪些'."""

from __future__ import annotations

from crm_store.tag_lists import SEGMENT_WORDS, own_customers_named
from crm_store.tags import MAX_TAG_CHARS, edit_tag
from handlers.context import Context
from handlers.contracts import Event, Reply
from handlers.texts import t


async def change_tag(ctx: Context, name: str, tag: str, action: str) -> Reply:
    """Add or remove one tag on one of the RM's own customers (audited by its event)."""
    tag = tag.strip().strip("；;，,。")
    if ctx.actor.role != "rm":
        return Reply(t("tag_rm_only", ctx.lang), (Event("refused", {"reason": "role"}),))
    if not tag or len(tag) > MAX_TAG_CHARS or ";" in tag or tag in SEGMENT_WORDS:
        return Reply(t("tag_bad", ctx.lang, max=MAX_TAG_CHARS))
    ids = own_customers_named(ctx.session, actor=ctx.actor, name=name)
    if not ids:  # not own, not visible or no such name: one answer for all
        return Reply(t("tag_not_own", ctx.lang), (Event("not_found"),))
    if len(ids) > 1:
        return Reply(t("tag_ambiguous", ctx.lang, count=len(ids)))
    changed = edit_tag(ctx.session, ids[0], tag, action, ctx.actor.staff_id, ctx.now)
    kind = "tag_added" if action == "add" else "tag_removed"
    key = kind if changed else f"{kind}_already"
    event = Event(kind, {"customer_id": ids[0], "tag": tag, "changed": changed})
    return Reply(t(key, ctx.lang, name=name, tag=tag), (event,))
