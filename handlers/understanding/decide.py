"""From the slots of a message to one intent, or to a short question when two readings are close.

Rules decide what the slots make plain ("张伟电话多少": a name and a field). What they leave open
goes to the semantic router (similarity to example phrasings, handlers/understanding/semantic.py);
when its best two readings are close, or it is unsure, the person is asked, never told "没理解".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace

from handlers import intents as i
from handlers.context import Context
from handlers.understanding import lexicon as lx
from handlers.understanding.normalise import clean
from handlers.understanding.periods import number
from handlers.understanding.semantic import Ranking, rank
from handlers.understanding.slots import Slots, find_slots

_PUNCT = re.compile(r"[\s,.!?;:~，。！？；：、…～\"'“”‘’()（）【】]+")
_CJK_NAME = re.compile(r"[\u4e00-\u9fff·]{2,4}")
# Words around a name in a look-up that are not the name ("查一下张玮的资料").
_LOOKUP_FILLER = re.compile(
    r"帮我|麻烦|请|查一?下|查询|查查|查|看一?下|看看|瞧瞧|调出|打开|客户|的|资料|情况|信息|档案|"
    r"画像|最近|怎么样|咋样|如何|近况|了|吗|呢|一下|这个|那个|是谁"
)
# When the router decides alone (cosine of e5 query vectors): set by hand, then checked with
# bench/eval_understanding.py, where only 36 of 1,113 reads reach the router at all.
CLEAR_SCORE = 0.88
CLEAR_MARGIN = 0.015


@dataclass(frozen=True)
class Reading:
    """What the message asks, how sure the reading is, and the runner-up when unsure."""

    intent: i.Intent
    sure: bool = True
    options: tuple[i.Intent, ...] = ()
    vector: object | None = field(default=None, compare=False)  # the message's e5 query vector
    proposed: bool = False  # the LLM's proposal decided the intent
    settles_choice: bool = False  # a number picking this from a pending "which did you mean?"


def _bare(text: str) -> str:
    return _PUNCT.sub("", text).lower()


def read_message(ctx: Context, raw: str, *, pending_choice: bool = False) -> Reading:
    """The intent of `raw` for the asker in `ctx` (explicit commands first)."""
    explicit = i.parse_intent(raw, pending_choice=pending_choice)
    if explicit.name == i.NOTE and "name" not in explicit.args:  # "记录：王芳尾号7012来电…"
        content = explicit.args["content"]
        return Reading(_note(content, find_slots(ctx, clean(content), ctx.now)))
    if explicit.name != i.UNKNOWN:
        return Reading(explicit)
    text = clean(raw)
    bare = _bare(text)
    if not bare:  # nothing typed (a voice note before transcription, a sticker)
        return Reading(i.Intent(i.UNKNOWN))
    if bare in lx.SMALL_TALK or text.lower() in lx.SMALL_TALK or _all_small_talk(bare):
        return Reading(i.Intent(i.SMALL_TALK))
    if bare in lx.BARE_ITEM_WORDS:
        return Reading(i.Intent(i.NEED_NUMBER, {"word": bare}))
    if bare in lx.MORE_WORDS:
        return Reading(i.Intent(i.MORE))
    again = i.parse_intent(text, pending_choice=pending_choice)  # full-width, traditional
    if again.name != i.UNKNOWN:
        return Reading(again)
    slots = find_slots(ctx, text, ctx.now)
    reading = _told_apart(_by_rules(text, slots) or _by_router(ctx, text, slots), slots)
    return _as_typed(reading, i.normalise(raw))


def _told_apart(reading: Reading, slots: Slots) -> Reading:
    """A question about the one customer the message told apart is about that customer: by
    number ("C00143最近聊了什么") its text names nobody the question path could find again,
    and by phone tail or segment ("王芳 尾号3366上次聊了什么") it would ask which 王芳."""
    intent, customer = reading.intent, slots.one_customer
    if intent.name != i.QUESTION or not slots.told_apart or customer is None:
        return reading
    if "customer_id" in intent.args:
        return reading
    return replace(
        reading, intent=i.Intent(i.QUESTION, {**intent.args, "customer_id": customer.id})
    )


def _as_typed(reading: Reading, typed: str) -> Reading:
    """Notes, reminders and questions keep the words as typed (the reading used a normalised
    copy): a question reaches the notes search and the model as the person wrote it."""

    def restore(intent: i.Intent) -> i.Intent:
        if intent.name == i.NOTE:
            content = lx.NOTE_CUE.sub("", typed, count=1).lstrip(" :：,，") or typed
            return i.Intent(i.NOTE, {**intent.args, "content": content})
        if intent.name in (i.REMIND, i.QUESTION):
            return i.Intent(intent.name, {**intent.args, "text": typed})
        return intent

    options = tuple(restore(o) for o in reading.options)
    return Reading(restore(reading.intent), reading.sure, options, reading.vector)


_SMALL_TALK_WORDS = sorted(lx.SMALL_TALK, key=len, reverse=True)


def _all_small_talk(bare: str) -> bool:
    """ "好的谢谢", "收到辛苦了": nothing but small-talk words."""
    left = bare
    for word in _SMALL_TALK_WORDS:
        left = left.replace(word, "")
    return len(bare) <= 12 and not left


def _note(text: str, slots: Slots) -> i.Intent:
    """A note; its customer too when the message told namesakes apart ("记一下：王芳VIP那个…")."""
    told = _customer_args(slots) if slots.told_apart and slots.one_customer else {}
    return i.Intent(i.NOTE, {"content": text, **told})


def _customer_args(slots: Slots) -> dict[str, str]:
    if slots.name and slots.told_apart and slots.one_customer:  # "王芳 尾号3366", "VIP的王芳"
        return {"name": slots.name, "customer_id": slots.one_customer.id}
    if slots.name:
        return {"name": slots.name}
    if slots.tail4:
        return {"last4": slots.tail4}
    return {}


# "为什么有风险" asks about a churn warning; "风险等级" alone is the risk-level field.
_CHURN = re.compile(r"流失|要走|会走|为什么有风险|为啥有风险|churn|at risk")
# "团队报告", "看看团队这周的情况", "我们组表现怎么样": the week's report ("团队里谁有存款到期"
# is a list, which the filters check lets through to the lists).
# Compliance's report is the week's audit summary: "审计报告", "本周有哪些拒绝访问".
# "哪个客户经理逾期最多", "团队里谁的客户最多": the report's per-RM rows answer them.
# "上周导出了几次": compliance's summary counts the exports.
_TEAM_REPORT = re.compile(
    r"(?:团队|我们组|本组|组里|全组|team).{0,6}(?:周报|报告|报表|情况|表现|业绩|数据|汇总|怎么样)"
    r"|审计(?:周报|报告|汇总|摘要|情况)|拒绝访问|越权访问"
    r"|(?:客户经理|同事|团队里|组里|组内).{0,8}(?:最多|最少|最高|最低|最差|最好)"
    r"|导出了?(?:几次|多少次|记录|情况)"
)
# "今天谁查看过张伟", "张伟被谁看过", "张伟的访问日志": who saw a customer (compliance's).
# Not "访问记录" or "查看记录": to an RM those are the visits and notes of the customer.
_ACCESS_LOG = re.compile(
    r"谁(?:查看|看|查询|查|访问|调阅|打开|浏览)(?:过|了)"
    r"|被谁(?:查看|看|查询|查|访问|调阅|打开|浏览)"
    r"|(?:访问|查看|查询|调阅)日志|调阅记录"
    r"|who (?:has )?(?:viewed|looked at|looked up|accessed|opened|saw)"
)
# "李娜今天看了哪些客户": whom a staff member saw (compliance's); the name comes first.
_STAFF_LOOKED = re.compile(
    r"^(?P<who>[\u4e00-\u9fff·]{2,4}?)(?:今天|昨天|前天|本周|这周|上周|本月|这个月|上个月|最近)?"
    r"都?(?:看了|查了|查看了|查看过|访问了|看过|查过|查询了|调阅了)(?:哪些|几个|多少|什么|谁)"
)
# "这个月我记了几条跟进", "今天写了多少条记录": the asker's own notes, counted.
_NOTE_COUNT = re.compile(r"(?:记|写|录)了?(?:几条|多少条|多少)(?:跟进|记录|笔记|沟通记录)?")
_UNDO_WORDS = re.compile(r"撤销|撤回|撤掉|撤了|删掉刚才|undo")
_LATIN_LOOKUP = re.compile(r"(?i)^(?:look\s*up|lookup|show(?: me)?|find)\s+([a-z][a-z ]{1,40})$")


def _by_rules(text: str, slots: Slots) -> Reading | None:
    """The readings the slots make plain, most specific first; None leaves it to the router."""
    rest = slots.without_name()
    lowered = text.lower()
    if lx.NOTE_CUE.search(text):
        return Reading(_note(text, slots))
    if lx.REMIND_CUE.search(lowered):
        return Reading(i.Intent(i.REMIND, {"text": text, **_customer_args(slots)}))
    named = bool(slots.customers)
    if _CHURN.search(lowered):  # "团队里哪些客户有流失风险", "张伟会不会流失"
        if slots.name:  # namesakes a segment or phone tail told apart stay told apart
            return Reading(i.Intent(i.RETENTION_WHY, _customer_args(slots)))
        if not named:
            return Reading(i.Intent(i.RETENTION_LIST, _owner_args(slots)))
    # "他问谁查了他的征信" after a call is a note, not a look-up of the audit log.
    told = lx.CONTACT_VERB.search(text)
    if _ACCESS_LOG.search(lowered) and (slots.name or slots.unknown_name) and not told:
        return Reading(i.Intent(i.ACCESS_LOG, _access_args(slots)))
    if not named and _NOTE_COUNT.search(lowered) and not slots.staff:
        return Reading(i.Intent(i.NOTE_COUNT, _period_args(slots)))
    looked = _STAFF_LOOKED.search(text)
    if looked and not named and not told:
        staff = {"staff_name": looked.group("who")}
        return Reading(i.Intent(i.ACCESS_LOG, {**staff, **_period_args(slots)}))
    reported = _TEAM_REPORT.search(lowered) and not _top(lowered)
    if not named and reported and not _has_filters(rest, slots):
        return Reading(i.Intent(i.TEAM_REPORT, _period_args(slots)))
    if not named and len(text) <= 12 and _UNDO_WORDS.search(lowered):
        return Reading(i.Intent(i.UNDO))
    if not named and lx.HELP_CUE.search(lowered):
        return Reading(i.Intent(i.HELP))
    asks = bool(lx.QUESTION_CUE.search(rest))
    if named and _tells_contact(rest, slots, asks):
        return Reading(i.Intent(i.NOTE, {"content": text, **_customer_args(slots)}))
    if not named and lx.CONTACT_VERB.search(text) and not asks and slots.silence is None:
        # A note on a name nobody visible has is "not found", as for a name that is nobody's.
        who = {"name": slots.unknown_name} if slots.unknown_name else {}
        if who or lx.PAST_MARK.search(text):
            return Reading(i.Intent(i.NOTE, {"content": text, **who}))
    if not named and lx.TODAY_CUE.search(lowered) and not _has_filters(rest, slots):
        return Reading(_agenda(slots))
    # "李娜这周跟进了几个客户": the week's report, theirs in it; "刚联系了李娜" tells, not asks.
    if not named and slots.staff and lx.QUESTION_CUE.search(rest):
        return Reading(i.Intent(i.TEAM_REPORT))
    if not named and slots.unknown_name:
        return Reading(_unknown_customer(slots))
    latin = _LATIN_LOOKUP.match(text)
    if not named and latin:
        return Reading(i.Intent(i.LOOKUP, {"name": latin.group(1).strip()}))
    if _asks_notes(rest, slots):
        return Reading(i.Intent(i.QUESTION, {"text": text}))
    listing = _list_intent(text, rest, slots)
    if listing is not None:
        return Reading(listing)
    if named:
        return _about_customer(rest, slots)
    return _unnamed_lookup(text)


def _access_args(slots: Slots) -> dict[str, str]:
    """Whose access record, and for which days when typed ("今天", "本周")."""
    who = _customer_args(slots) or {"name": slots.unknown_name or ""}
    return {**who, **_period_args(slots)}


def _tells_contact(rest: str, slots: Slots, asks: bool) -> bool:
    """A named customer and what happened: a contact verb, or a follow-up day with its word
    ("孙丽华 房贷想提前还一部分 三天后再跟进")."""
    follow = bool(re.search(r"回访|跟进|再联系|再约|复访|再打", rest))
    if lx.CONTACT_VERB.search(rest) and follow:
        return True  # "郑国庆来电问养老金账户怎么开 12月15号再联系"
    if asks and lx.NOTE_TOPIC.search(rest):
        return False
    return bool(lx.CONTACT_VERB.search(rest)) or (follow and not asks)


_BARE_WEEKDAY = re.compile(r"(?:周|星期|礼拜)[一二三四五六日天]")


def _owner_args(slots: Slots) -> dict[str, str]:
    """A manager's filter by the staff member named ("李娜名下")."""
    return {"owner": slots.owner[0], "owner_name": slots.owner[1]} if slots.owner else {}


def _agenda(slots: Slots) -> i.Intent:
    """Today's list, or a later day's when one day is named ("明天有哪些待办", "周四的安排";
    the handler decides what a past day means)."""
    day = slots.period
    if day is None or day.start != day.end:
        return i.Intent(i.TODAY)
    args = {"on": day.start.isoformat()}
    if _BARE_WEEKDAY.fullmatch(day.words):  # "周二的安排" on a Saturday: next Tuesday's
        args["weekday"] = "bare"
    return i.Intent(i.TODAY, args)


def _has_filters(rest: str, slots: Slots) -> bool:
    lowered = rest.lower()
    return bool(
        lx.BIRTHDAY_WORD.search(lowered)
        or lx.MATURITY_WORD.search(lowered)
        or slots.threshold
        or slots.segments
        or slots.tag
        or slots.silence
    )


def _unknown_customer(slots: Slots) -> i.Intent:
    """A name nobody visible has: the same "not found" (or near miss) whatever was asked."""
    name = slots.unknown_name or ""
    if slots.fields or slots.products:
        field_name = (slots.fields or ["holdings"])[0]
        return i.Intent(i.FIELD, {"name": name, "field": field_name})
    return i.Intent(i.LOOKUP, {"name": name})


def _asks_notes(rest: str, slots: Slots) -> bool:
    """A question about what was said or felt ("上次聊了什么", "谁对基金感兴趣")."""
    sql_data = (
        lx.FOLLOWUP_LIST.search(rest)
        or slots.threshold
        or slots.tag
        or slots.segments
        or slots.silence
        or lx.BIRTHDAY_WORD.search(rest)
        or lx.MATURITY_WORD.search(rest)
    )
    if sql_data:
        return False
    topic = lx.NOTE_TOPIC.search(rest)
    asks = lx.QUESTION_CUE.search(rest) or re.search(r"上次|最近|上个月|之前", rest)
    return bool(topic and asks)


def _period_args(slots: Slots, prefix: str = "") -> dict[str, str]:
    """The days typed, as handlers read them back (`handlers.context.typed_days`); {} when
    none were typed (each handler has its default)."""
    day = slots.period
    if day is None:
        return {}
    return {
        f"{prefix}from": day.start.isoformat(),
        f"{prefix}to": day.end.isoformat(),
        f"{prefix}words": day.words,
    }


# Contacted in a period, as asked about ("上周联系了哪些客户", "这个月拜访过几个客户").
_CONTACTED = re.compile(
    r"联系了|联系过|沟通了|沟通过|拜访了|拜访过|跟进了|跟进过|见了|见过|打过电话|打了电话|"
    r"通过电话|contacted|called|visited|met"
)


# "资产最多的前五个客户", "AUM最高的客户是谁", "top 10 customers": the largest by AUM.
_LARGEST = re.compile(r"(?:资产|aum|存款|金额)(?:最多|最高|最大)|最大的客户|top\s*\d")
_TOP_N = re.compile(r"(?:前|top)\s*(?P<n>\d{1,2}|[一二两三四五六七八九十]{1,3})\s*(?:个|位|名)")
_TOP_N_EN = re.compile(r"top\s*(?P<n>\d{1,2})")
_THE_ONE = re.compile(r"谁|哪位|哪一位|哪个|who")
_SOME = re.compile(r"几|哪些|们|which customers")


def _top(lowered: str) -> int | None:
    """How many of the largest customers are asked for: the number given, else one for
    "是谁", else five; None when the largest are not asked for."""
    m = _TOP_N.search(lowered) or _TOP_N_EN.search(lowered)
    if m is None and not _LARGEST.search(lowered):
        return None
    one = _THE_ONE.search(lowered) and not _SOME.search(lowered)
    n = number(m.group("n")) if m else (1 if one else 5)
    return n if n and 0 < n <= 50 else None


def _list_intent(text: str, rest: str, slots: Slots) -> i.Intent | None:
    """Lists: birthdays or maturities in a period, an AUM bound, a segment, follow-ups due."""
    lowered = rest.lower()
    one = slots.one_customer is not None
    # A named customer, even one of two namesakes, is asked about, not listed with everyone
    # ("王芳的生日是哪天" with two 王芳 asks which one).
    named = bool(slots.customers)
    segment = {"segment": slots.segments[0]} if slots.segments else {}
    if lx.BIRTHDAY_WORD.search(lowered) and not named:
        return i.Intent(i.LIST, {"kind": "birthdays", **_period_args(slots), **segment})
    if lx.MATURITY_WORD.search(lowered) and not named:
        args = {"kind": "maturities", **_period_args(slots), **segment}
        if slots.products:
            args["products"] = ",".join(slots.products)
        return i.Intent(i.LIST, args)
    # "半个月没跟进的客户" is a time without notes, not the follow-ups due.
    if lx.FOLLOWUP_LIST.search(lowered) and not named and slots.silence is None:
        return i.Intent(i.LIST, {"kind": "followups"})
    filters: dict[str, str] = {}
    if slots.threshold is not None and not one:
        key = "aum_at_least" if slots.threshold.at_least else "aum_below"
        filters[key] = str(slots.threshold.amount)
    if slots.segments and not one:
        filters["segment"] = slots.segments[0]
    if slots.tag and not one:
        filters["tag"] = slots.tag
    if slots.owner and not one:
        filters.update(_owner_args(slots))
    if slots.silence and not one:
        key = "past_cadence" if slots.silence.past_cadence else "silent_days"
        filters[key] = str(slots.silence.days or 1)
    top = _top(lowered)
    if top and not named:
        filters["top"] = str(top)
    if slots.period and _CONTACTED.search(lowered) and not slots.silence and not named:
        filters |= _period_args(slots, "noted_")  # "上周我联系了哪些客户": a note then
    counting = bool(lx.COUNT_CUE.search(lowered))
    if (
        filters
        or lx.MY_CUSTOMERS.search(lowered)
        or (not slots.customers and counting and ("客户" in lowered or "customer" in lowered))
    ):
        if counting and not top:  # "资产最多的几个客户" lists them
            filters["count_only"] = "1"
        return i.Intent(i.LIST, {"kind": "customers", **filters})
    return None


_STATEMENT = re.compile(r"想|要|打算|考虑|准备|希望|觉得|同意|不想|不要|愿意|决定|计划|说")


def _about_customer(rest: str, slots: Slots) -> Reading:
    """A customer is named: a field, their holdings, or the card; a statement about them
    ("张伟想了解大额存单") may be a note as well, so the person is asked."""
    args = _customer_args(slots)
    if _STATEMENT.search(rest) and not lx.QUESTION_CUE.search(rest):
        note = i.Intent(i.NOTE, {"content": slots.text, **args})
        return Reading(note, sure=False, options=(note, i.Intent(i.LOOKUP, args)))
    if slots.segments and not slots.fields and not slots.told_apart:
        return Reading(i.Intent(i.FIELD, {**args, "field": "segment"}))
    if slots.products and set(slots.fields) <= {"holdings"} and _only_words(rest, slots):
        # "张伟 大额存单": a note to write, or the holdings to see?
        holdings = i.Intent(
            i.FIELD, {**args, "field": "holdings", "products": ",".join(slots.products)}
        )
        note = i.Intent(i.NOTE, {"content": slots.text, **args})
        return Reading(note, sure=False, options=(note, holdings))
    if slots.fields or slots.products:
        fields = [f for f in slots.fields if f != "maturity"] or slots.fields
        chosen = fields[0] if fields else "holdings"
        if slots.products or "maturity" in slots.fields:
            chosen = "maturity" if "maturity" in slots.fields else "holdings"
        extra = {"products": ",".join(slots.products)} if slots.products else {}
        return Reading(i.Intent(i.FIELD, {**args, "field": chosen, **extra}))
    leftover = _LOOKUP_FILLER.sub("", _bare(rest))
    if not leftover or lx.LOOKUP_CUE.search(rest.lower()):
        return Reading(i.Intent(i.LOOKUP, args))
    return Reading(i.Intent(i.LOOKUP, args), sure=False)


def _only_words(rest: str, slots: Slots) -> bool:
    """Nothing but the product words is left beside the name."""
    left = _bare(rest)
    for product in slots.products:
        for word in lx.PRODUCTS[product]:
            left = left.replace(word, "")
    return not left


def _unnamed_lookup(text: str) -> Reading | None:
    """A look-up of a name nobody visible has: "not found" (or a near miss), as for anyone."""
    leftover = _LOOKUP_FILLER.sub("", _bare(text))
    cue = lx.LOOKUP_CUE.search(text.lower())
    surname = leftover[:1] in lx.SURNAMES or leftover[:2] in lx.COMPOUND_SURNAMES
    if _CJK_NAME.fullmatch(leftover) and (cue or (surname and leftover == _bare(text))):
        return Reading(i.Intent(i.LOOKUP, {"name": leftover}))
    if cue and not leftover:  # "帮我看看这个客户": whom? (the not-found reply asks for a name)
        return Reading(i.Intent(i.LOOKUP, {}))
    return None


def _by_router(ctx: Context, text: str, slots: Slots) -> Reading:
    """The semantic router's reading, or a question with its two best readings."""
    ranking = rank(text)
    reading = _from_ranking(text, slots, ranking)
    if ranking is None:
        return reading
    return Reading(reading.intent, reading.sure, reading.options, ranking.vector)


def _from_ranking(text: str, slots: Slots, ranking: Ranking | None) -> Reading:
    if ranking is None:
        return _fallback(text, slots)
    first, second = ranking.best, ranking.runner_up
    candidates = [_as_intent(name, text, slots) for name in (first.name, second.name)]
    usable = [c for c in candidates if c is not None]
    if not usable:
        return _fallback(text, slots)
    clear = first.score >= CLEAR_SCORE and first.score - second.score >= CLEAR_MARGIN
    if clear and candidates[0] is not None:
        return Reading(candidates[0])
    return Reading(usable[0], sure=False, options=distinct(usable))


def _as_intent(name: str, text: str, slots: Slots) -> i.Intent | None:
    """An example bank's intent as a handler intent for this message (None if it cannot be)."""
    args = _customer_args(slots)
    match name:
        case i.NOTE:
            return i.Intent(i.NOTE, {"content": text, **args})
        case i.REMIND:
            return i.Intent(i.REMIND, {"text": text, **args}) if args else None
        case i.LOOKUP:
            return i.Intent(i.LOOKUP, args) if args else None
        case i.QUESTION:
            return i.Intent(i.QUESTION, {"text": text})
        case i.TODAY:
            return _agenda(slots)
        case i.HELP:
            return i.Intent(name)
    return None


def distinct(options: list[i.Intent]) -> tuple[i.Intent, ...]:
    """The options without repeats (same intent and arguments), in order."""
    seen: dict[tuple[str, tuple[tuple[str, str], ...]], i.Intent] = {}
    for option in options:
        seen.setdefault((option.name, tuple(sorted(option.args.items()))), option)
    return tuple(seen.values())


def _fallback(text: str, slots: Slots) -> Reading:
    """No router: a question if it asks something, else the choices a person could mean."""
    if lx.QUESTION_CUE.search(text):
        return Reading(i.Intent(i.QUESTION, {"text": text}), sure=False)
    args = _customer_args(slots)
    if args:
        options = (i.Intent(i.NOTE, {"content": text, **args}), i.Intent(i.LOOKUP, args))
        return Reading(options[0], sure=False, options=options)
    return Reading(i.Intent(i.HELP), sure=False)
