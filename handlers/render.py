"""Turning store results into the text a relationship manager reads on a phone."""

from __future__ import annotations

from datetime import date

from crm_store.agenda import BirthdayLine, MaturityLine
from crm_store.cards import CustomerCard, FollowUpLine
from crm_store.customers import CustomerSummary
from handlers.texts import day_text, money_text, t

PRODUCT_NAMES = {
    "time_deposit": "定期存款",
    "large_cd": "大额存单",
    "wealth_management": "理财",
    "fund": "基金",
    "insurance": "保险",
    "loan": "贷款",
}


def segment_text(segment: str) -> str:
    """VIP / 普通客户 / 潜在客户."""
    return t(f"segment_{segment}")


def summary_line(index: int, c: CustomerSummary) -> str:
    """One numbered choice: enough to tell two 王芳 apart, no full personal number."""
    phone = c.phone_masked or t("none")
    segment = segment_text(c.segment)
    return f"{index}. {c.name}｜{segment}｜手机{phone}｜{c.branch_name}｜客户经理{c.owner_name}"


def _birthday_line(card: CustomerCard, today: date) -> str | None:
    if card.next_birthday is None:
        return None
    calendar = t(f"calendar_{card.birthday_calendar}")
    days = (card.next_birthday - today).days
    if days == 0:
        return t("card_birthday_today", calendar=calendar)
    return t("card_birthday", on=day_text(card.next_birthday, today), calendar=calendar, days=days)


def card_text(card: CustomerCard, today: date) -> str:
    """The customer card, in the order an RM scans it."""
    lines = [
        t(
            "card_head",
            name=card.name,
            segment=segment_text(card.segment),
            risk=card.risk_level or t("unknown_value"),
            aum=money_text(card.aum) if card.aum is not None else t("unknown_value"),
        ),
        t(
            "card_contact",
            phone=card.phone_masked or t("none"),
            id_number=card.id_number_masked or t("none"),
            branch=card.branch_name,
            owner=card.owner_name,
        ),
    ]
    if card.tags:
        lines.append(t("card_tags", tags="、".join(card.tags.split(";"))))
    birthday = _birthday_line(card, today)
    if birthday:
        lines.append(birthday)
    lines.append(t("card_maturing") if card.maturing else t("card_no_maturing"))
    for h in card.maturing:
        due = day_text(h.maturity_date, today) if h.maturity_date else ""
        kind = PRODUCT_NAMES.get(h.product_type, h.product_type)
        lines.append(f"  • {kind}「{h.product_name}」{money_text(h.amount, h.currency)}，{due}到期")
    lines.append(t("card_notes") if card.notes else t("card_no_notes"))
    for n in card.notes:
        lines.append(f"  • {n.occurred_at.date().isoformat()} {n.staff_name}：{n.content}")
    if card.followups:
        lines.append(t("card_followups"))
        lines.extend(followup_line(None, f, today) for f in card.followups)
    return "\n".join(lines)


def followup_line(index: int | None, f: FollowUpLine, today: date) -> str:
    """A follow-up as a list line; overdue ones say by how many days."""
    prefix = f"{index}. " if index is not None else "  • "
    late = (today - f.due_on).days
    when = f"逾期{late}天" if late > 0 else day_text(f.due_on, today)
    return f"{prefix}{f.customer_name}：{f.summary}（{when}）"


def birthday_line(b: BirthdayLine, today: date) -> str:
    """An upcoming birthday as a list line."""
    calendar = "（农历）" if b.calendar == "lunar" else ""
    return f"  • {b.customer_name} {day_text(b.on, today)}{calendar}"


def maturity_line(m: MaturityLine, today: date) -> str:
    """An upcoming maturity as a list line."""
    kind = PRODUCT_NAMES.get(m.product_type, m.product_type)
    return (
        f"  • {m.customer_name}：{kind}「{m.product_name}」"
        f"{money_text(m.amount, m.currency)}，{day_text(m.maturity_date, today)}到期"
    )
