"""The entities of a message: who, when, how much, which field, product, segment or tag.

Customers are found through the permission-aware look-up over the whole text (the longest
visible name wins; a phone tail counts too): a customer the asker cannot see is exactly like a
name that does not exist.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from functools import cache

from crm_store.customer_filters import find_by_pinyin, visible_owners, visible_tags
from crm_store.customers import (
    CustomerSummary,
    find_by_number,
    find_by_phone_tail,
    find_in_text,
)
from crm_store.pinyin import name_pinyin
from handlers.context import Context
from handlers.understanding import lexicon as lx
from handlers.understanding.periods import (
    Period,
    Silence,
    Threshold,
    find_period,
    find_silence,
    find_threshold,
)

_TAIL = re.compile(r"(?:尾号|末四位|后四位|ending in|tail)\s*(\d{4})(?!\d)")
# A customer number as the core system prints it: letters then digits ("C00143"), or eight
# digits or more; never a phone tail or an amount ("5000", "50万").
_NUMBER = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{1,4}\d{3,}|\d{8,})(?![A-Za-z0-9])")
_LATIN_WORD = re.compile(r"[A-Za-z]+")
_EN_STOP = frozenset(
    (
        "look",
        "up",
        "show",
        "me",
        "find",
        "who",
        "is",
        "the",
        "a",
        "an",
        "of",
        "for",
        "my",
        "customer",
        "customers",
        "client",
        "note",
        "record",
        "remind",
        "call",
        "tomorrow",
        "today",
        "phone",
        "mobile",
        "aum",
        "assets",
        "birthday",
        "risk",
        "level",
        "products",
        "holdings",
        "what",
        "whats",
        "on",
        "please",
        "thanks",
        "thank",
        "you",
        "hi",
        "hello",
        "with",
        "about",
        "talk",
        "talked",
        "last",
        "time",
        "maturing",
        "maturity",
        "mature",
        "next",
        "this",
        "week",
        "month",
        "vip",
        "list",
        "all",
        "how",
        "many",
        "did",
        "discuss",
        "to",
        "and",
        "in",
        "at",
        "is",
        "was",
        "he",
        "she",
        "his",
        "her",
        "they",
        "them",
        "i",
        "me",
        "it",
        "wants",
        "want",
        "interested",
        "fund",
        "funds",
        "deposit",
        "deposits",
        "insurance",
        "loan",
        "wealth",
        "large",
        "cd",
        "done",
        "snooze",
        "undo",
        "help",
        "more",
    )
)


@dataclass(frozen=True)
class Slots:
    """What a message names, found on its normalised copy."""

    text: str
    customers: list[CustomerSummary] = field(default_factory=list)
    name: str | None = None  # the customer name as found in the text
    tail4: str | None = None
    period: Period | None = None
    threshold: Threshold | None = None
    silence: Silence | None = None  # "一个月没联系的": customers without a note since then
    fields: list[str] = field(default_factory=list)
    products: list[str] = field(default_factory=list)
    segments: list[str] = field(default_factory=list)
    tag: str | None = None  # a tag of a visible customer, named in a list request
    unknown_name: str | None = None  # a name no visible customer has ("侯俊峰电话多少")
    owner: tuple[str, str] | None = None  # (staff id, name): "李娜名下的VIP", for managers
    # (staff id, name) of a staff member named with their work, no customer named
    # ("李娜这周跟进了几个客户"): a question for the team report.
    staff: tuple[str, str] | None = None
    told_apart: bool = False  # namesakes told apart by a phone tail or a segment, or a number
    number: str | None = None  # the customer number as typed ("查一下C00143")

    @property
    def one_customer(self) -> CustomerSummary | None:
        """The customer named, when exactly one visible customer is named."""
        return self.customers[0] if len(self.customers) == 1 else None

    def without_name(self) -> str:
        """The text with the customer's name (or number) taken out (for reading the rest)."""
        text = self.text.replace(self.name, " ") if self.name else self.text
        return text.replace(self.number, " ") if self.number else text


def _latin_names(text: str) -> set[str]:
    """Pinyin spellings a latin-letter text could name: "Zhang Wei" -> {"zhangwei", ...}."""
    words = [w.lower() for w in _LATIN_WORD.findall(text) if w.lower() not in _EN_STOP]
    spellings: set[str] = set()
    for size in (2, 3):
        spellings.update("".join(words[i : i + size]) for i in range(len(words) - size + 1))
    spellings.update(w for w in words if len(w) >= 5)
    return spellings


def find_customers(ctx: Context, text: str) -> tuple[list[CustomerSummary], str | None]:
    """Visible customers named in `text` and the name as found (Chinese, then pinyin)."""
    found = find_in_text(ctx.session, actor=ctx.actor, today=ctx.today, text=text)
    if found:
        return found, found[0].name
    spellings = _latin_names(text)
    if spellings:
        found = find_by_pinyin(ctx.session, actor=ctx.actor, today=ctx.today, spellings=spellings)
        if found:
            spelled = name_pinyin(found[0].name)
            same = [c for c in found if name_pinyin(c.name) == spelled]
            return same, found[0].name
    return [], None


def names_a_number(text: str) -> bool:
    """Whether `text` has a token shaped like a customer number ("C00143")."""
    return _NUMBER.search(text) is not None


def find_numbered(ctx: Context, text: str) -> tuple[list[CustomerSummary], str | None]:
    """Visible customers named by customer number ("查一下C00143") and the number as typed;
    a number the asker may not see finds nothing, as an unknown name does."""
    typed = {match.group(1): match.group(1) for match in _NUMBER.finditer(text)}
    typed |= {number.upper(): number for number in list(typed)}  # "c00143" as typed
    if not typed:
        return [], None
    found = find_by_number(ctx.session, actor=ctx.actor, today=ctx.today, numbers=set(typed))
    if len(found) != 1:  # none visible, or two customers: an open question, as two names are
        return [], None
    return found, typed[found[0].id]


def find_slots(ctx: Context, text: str, now: datetime) -> Slots:
    """Every slot of `text` (already normalised) for the asker in `ctx`."""
    customers, name = find_customers(ctx, text)
    number = None
    if not customers:
        customers, number = find_numbered(ctx, text)
    tail = _TAIL.search(text)
    if not customers and tail:
        customers = find_by_phone_tail(
            ctx.session, actor=ctx.actor, today=ctx.today, last4=tail.group(1)
        )
    rest = text.replace(name, " ") if name else text
    if number is not None:  # the customer is told apart by number, named by name
        rest, name = rest.replace(number, " "), customers[0].name
    tag = _tag_in(ctx, rest) if not customers and lx.LIST_CUE.search(rest.lower()) else None
    namesakes = len(customers) > 1
    if tail and len(customers) > 1:  # "王芳 尾号3366": the tail tells namesakes apart
        customers = [c for c in customers if (c.phone_masked or "").endswith(tail.group(1))]
    owner = _owner_in(ctx, rest) if not customers and lx.OWNER_CUE.search(rest) else None
    if owner is None and not customers:
        owner = _owner_before_de(ctx, rest)
    staff = None
    if not customers and not owner and lx.STAFF_WORK_CUE.search(rest):
        staff = _staff_in_report(ctx, rest)
    segments = lx.words_in(rest, lx.SEGMENTS)
    if segments and len(customers) > 1:  # "王芳那个VIP客户": so does the segment
        customers = [c for c in customers if c.segment in segments] or customers
    return Slots(
        text=text,
        customers=customers,
        name=name,
        tail4=tail.group(1) if tail else None,
        period=find_period(rest, now),
        threshold=find_threshold(rest),
        silence=find_silence(rest),
        fields=lx.words_in(rest, lx.FIELDS) or (lx.words_by_sound(rest, lx.FIELDS) if name else []),
        products=lx.words_in(rest, lx.PRODUCTS),
        segments=segments,
        told_apart=(namesakes and len(customers) == 1) or number is not None,
        number=number,
        tag=tag,
        unknown_name=None if customers or tag or owner else (name_like(text) or _latin_name(text)),
        owner=owner,
        staff=staff,
    )


# Whose team report has a row for each of their staff ("团队周报"); an RM's has their own.
_MANAGERS = ("team_lead", "branch_head")


def _staff_in_report(ctx: Context, text: str) -> tuple[str, str] | None:
    """The staff member named, when the asker's own report has their row: a manager's staff,
    or the asker."""
    staff = _owner_in(ctx, text)
    actor = ctx.actor
    if staff is None or not staff[0] or actor is None:
        return None
    return staff if actor.role in _MANAGERS or staff[0] == actor.staff_id else None


def _owner_in(ctx: Context, text: str) -> tuple[str, str] | None:
    """The staff member whose customers the text asks about ("李娜名下"), among those who own
    a customer the asker may see; None when nobody's or several people's names are there."""
    owners = visible_owners(ctx.session, actor=ctx.actor, today=ctx.today)
    named = [o for o in owners if o[1] in text]
    longest = max((len(o[1]) for o in named), default=0)
    named = [o for o in named if len(o[1]) == longest]
    if len({o[0] for o in named}) == 1:
        return named[0]
    # A name owning nothing the asker may see ("赵强名下的VIP" from another branch's RM) is
    # a filter that matches nothing, whether or not such a person exists: never all of them.
    cue = lx.OWNER_CUE.search(text)
    word = name_like(text[: cue.start()]) if cue and not named else None
    return ("", word) if word else None


_CUSTOMERS_WORD = re.compile(r"客户|vip", re.IGNORECASE)


def _owner_before_de(ctx: Context, text: str) -> tuple[str, str] | None:
    """ "李娜的VIP客户有几个": a staff member who owns customers the asker may see, named right
    before 的 in a question about customers; None when nobody's or several people's."""
    # The owners' query only when a name-like word stands before 的 ("我的客户" has none).
    if not _CUSTOMERS_WORD.search(text) or not name_like(text.split("的", 1)[0]):
        return None
    owners = visible_owners(ctx.session, actor=ctx.actor, today=ctx.today)
    named = {o for o in owners if f"{o[1]}的" in text}
    return named.pop() if len(named) == 1 else None


@cache
def _syllables() -> frozenset[str]:
    """Every tone-less pinyin syllable (from pypinyin's own dictionary)."""
    from pypinyin.constants import PINYIN_DICT
    from pypinyin.contrib.tone_convert import to_normal

    return frozenset(to_normal(p) for v in PINYIN_DICT.values() for p in v.split(","))


def _is_pinyin_name(word: str) -> bool:
    """Whether a latin word splits into two to four pinyin syllables ("hejunjie")."""
    word = word.lower()
    best: list[int | None] = [0] + [None] * len(word)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - 6), end):
            count = best[start]
            if count is not None and word[start:end] in _syllables():
                best[end] = min(best[end] or 99, count + 1)
    return best[-1] is not None and 2 <= best[-1] <= 4


def _latin_name(text: str) -> str | None:
    """Latin words that spell a Chinese name in pinyin ("He Junjie", "HEJUNJIE")."""
    words = [w for w in _LATIN_WORD.findall(text) if w.lower() not in _EN_STOP]
    for size in (2, 1):
        for k in range(len(words) - size + 1):
            chosen = words[k : k + size]
            if _is_pinyin_name("".join(chosen)):
                return " ".join(chosen)
    return None


def name_like(text: str) -> str | None:
    """A word that stands where a name stands and starts with a common surname, as typed:
    "侯俊峰电话多少" -> "侯俊峰". Used only when no visible customer is named, so that a name
    nobody visible has gets "not found" whatever was asked about it."""
    for start in range(len(text)):
        before = text[:start]
        if start and before[-1] not in lx.NAME_BEFORE and not before.endswith(lx.WORDS_BEFORE_NAME):
            continue
        head = 2 if text[start : start + 2] in lx.COMPOUND_SURNAMES else 1
        if (head == 1 and text[start] not in lx.SURNAMES) or lx.NOT_A_NAME.match(text, start):
            continue
        for end in range(min(len(text), start + head + 2), start + head, -1):
            word = text[start:end]
            if not all("\u4e00" <= ch <= "\u9fff" for ch in word):
                continue
            if any(lx.AFTER_NAME.match(text, k) for k in range(start + head, end)):
                continue  # "段娜的" is "段娜" and its "的"
            if end == len(text) or lx.AFTER_NAME.match(text, end):
                return word
    return None


def _tag_in(ctx: Context, text: str) -> str | None:
    """The longest tag of a visible customer that the text names ("高净值客户有哪些")."""
    lowered = text.lower()
    tags = visible_tags(ctx.session, actor=ctx.actor, today=ctx.today)
    named = [tag for tag in tags if tag.lower() in lowered]
    return max(named, key=len) if named else None
