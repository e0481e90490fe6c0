"""Rule-based intent parsing: deterministic, no LLM needed, tested as a table."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

HELP = "help"
LOOKUP = "lookup"
LOOKUP_TAIL = "lookup_tail"
NOTE = "note"
UNDO = "undo"
TODAY = "today"
DONE = "done"
SNOOZE = "snooze"
LIST_VIP = "list_vip"
LIST_MATURING = "list_maturing"
CHOOSE = "choose"
CANCEL = "cancel"
QUESTION = "question"
FIELD = "field"  # one customer's AUM, phone, birthday, risk level, holdings or maturities
LIST = "list"  # customers filtered by period, amount, segment, tag, follow-ups
REMIND = "remind"  # "明天提醒我给张伟打电话": a follow-up task without a note
SMALL_TALK = "small_talk"
MORE = "more"  # the next page of the last list
NEED_NUMBER = "need_number"  # a bare "完成" without its item number
ASK = "ask"  # two readings are close: ask which one with numbered choices
UNKNOWN = "unknown"
RETENTION_LIST = "retention_list"  # handlers/retention.py
RETENTION_WHY = "retention_why"
RETENTION_FOLLOW = "retention_follow"
TEAM_REPORT = "team_report"  # handlers/team_report.py
ACCESS_LOG = "access_log"  # handlers/access_log.py: who saw a customer (compliance)
NOTE_COUNT = "note_count"  # handlers/note_count.py: "这个月我记了几条跟进"
TAG_ADD = "tag_add"  # handlers/tags.py
TAG_REMOVE = "tag_remove"
LIST_TAG = "list_tag"

_CN_DIGITS = {
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
# An item's number: "2", "第二项" (a Chinese numeral only after 第 or before 个/项/条).
_ITEM = r"(?P<n>\d{1,3}|(?<=第)[一二两三四五六七八九十]|[一二两三四五六七八九十](?=\s*[个项条]))"
_DONE_VERB = r"(?:完成|搞定|做完|办完|办好|做好|处理好|处理完|弄好)"
# "帮我把第3条推迟到下周一", "请把2完成": a polite start before an item's number.
_PLEASE = r"(?:帮我|帮忙|请|麻烦你?|麻烦帮我)?"
_NAME = r"(?P<name>[\u4e00-\u9fff·]{2,5}?|[A-Za-z][A-Za-z ]{1,30})"


@dataclass(frozen=True)
class Intent:
    """What a message asks for, with the arguments the rules found."""

    name: str
    args: dict[str, str] = field(default_factory=dict)


def normalise(text: str) -> str:
    """Whitespace collapsed and trimmed; the words themselves are kept as typed."""
    return re.sub(r"\s+", " ", text.replace("\u3000", " ")).strip()


def choice_number(text: str) -> int | None:
    """'2', '第二个', '2号', '第2位' -> 2; anything else -> None."""
    m = re.fullmatch(r"(?:第)?\s*(\d{1,2}|[一二两三四五六七八九十])\s*(?:个|位|号|项)?", text)
    if not m:
        return None
    token = m.group(1)
    if token.isdigit():
        return int(token)
    return 10 if token == "十" else _CN_DIGITS[token]


# "没联系", "未沟通", "没再跟进": no contact since ("一个月没联系的VIP", handlers/understanding/
# periods.py), never a tag's name.
NO_CONTACT = (
    r"(?:没有?|未|没再)(?:再)?"
    r"(?:联系|联络|沟通|跟进|拜访|回访|打电话|打过电话|通话|见面|见过|聊过|聊)"
)
_RULES: list[tuple[str, re.Pattern[str]]] = [
    (HELP, re.compile(r"(?i)^(/help|/start|help|帮助|菜单|\?|？|你能做什么|怎么用)$")),
    (
        TODAY,
        re.compile(
            r"(?i)^(/today|今天要做什么|今天做什么|今日待办|待办|今天有什么(事|安排|待办)?)[?？]?$"
        ),
    ),
    (UNDO, re.compile(r"(?i)^(/undo|undo|撤销|撤回)$")),
    (CANCEL, re.compile(r"(?i)^(/cancel|取消|算了)$")),
    (DONE, re.compile(rf"(?i)^(?:/done|done|完成|搞定|已完成)\s*第?\s*{_ITEM}\s*[个项条]?$")),
    (
        DONE,
        re.compile(rf"^{_PLEASE}(?:把)?第?\s*{_ITEM}\s*[个项条]?(?:已经?)?{_DONE_VERB}了?$"),
    ),
    (
        SNOOZE,
        re.compile(
            rf"(?i)^(?:/snooze|snooze|推迟|延后|延期)\s*第?\s*{_ITEM}\s*[个项条]?\s*"
            r"(?:到|至|改到|改成|to\s)?\s*(?P<when>.*)$"
        ),
    ),
    (
        SNOOZE,
        re.compile(
            rf"^{_PLEASE}(?:把)?第?\s*{_ITEM}\s*[个项条号]?(?:推迟|延后|延期|推|改)\s*(?:到|至)?\s*"
            r"(?P<when>.*)$"
        ),
    ),
    (LIST_VIP, re.compile(r"(?i)^(/vip|(我的)?vip客户(列表|有哪些)?)[?？]?$")),
    (
        LIST_MATURING,
        re.compile(r"^(/maturing|(?P<when>下个?月|本月|这个月)到期的?客户(有哪些)?)[?？]?$"),
    ),
    (
        RETENTION_LIST,
        re.compile(
            r"(?i)^(/risk|(哪些|有哪些|有什么)客户有流失风险|流失(风险|预警)(客户)?(名单)?)[?？]?$"
        ),
    ),
    (RETENTION_WHY, re.compile(rf"^{_NAME}为什么有(?:流失)?风险[?？]?$")),
    (RETENTION_FOLLOW, re.compile(r"(?i)^(?:/follow|follow|跟进)\s*(?P<n>\d{1,3})$")),
    (
        TEAM_REPORT,
        re.compile(r"(?i)^(?:/team|团队周报|周报)(?:\s+(?P<team>[A-Za-z0-9_-]{1,32}))?$"),
    ),
    (TAG_ADD, re.compile(rf"^给{_NAME}(?:打|加|添加)个?标签\s*[:：]?\s*(?P<tag>\S{{1,20}})$")),
    # "给张伟加个关注基金的标签", "给张伟打上高净值标签"
    (
        TAG_ADD,
        re.compile(rf"^给{_NAME}(?:打|加|添加)(?:上|个)?\s*(?P<tag>[^\s的]{{1,20}})的?标签$"),
    ),
    # "把张伟的标签加上关注基金", "张伟标签加上高净值"
    (
        TAG_ADD,
        re.compile(rf"^把?{_NAME}的?标签(?:加上|添加|加|增加)\s*[:：]?\s*(?P<tag>\S{{1,20}})$"),
    ),
    (TAG_REMOVE, re.compile(rf"^(?:去掉|删除|移除){_NAME}的标签\s*[:：]?\s*(?P<tag>\S{{1,20}})$")),
    # "把张伟的标签高净值去掉", "张伟的高净值标签删掉"
    (
        TAG_REMOVE,
        re.compile(
            rf"^把?{_NAME}的(?:标签\s*)?(?P<tag>[^\s的]{{1,20}}?)(?:标签)?(?:去掉|删掉|删除|移除)$"
        ),
    ),
    (
        LIST_TAG,
        # Not "半个月没跟进的客户有哪些" (a time without notes), "资产最多的客户有哪些" (the
        # largest) nor "我的客户有哪些" (all of them): the understanding reads those.
        re.compile(
            rf"^(?!.*{NO_CONTACT})(?!.*(?:最多|最高|最大))(?!(?:我|我们|咱们|自己)的?客户)"
            r"(?P<tag>[\u4e00-\u9fffA-Za-z0-9]{1,10}?)客户有哪些[?？]?$"
        ),
    ),
    (
        LOOKUP_TAIL,
        re.compile(
            r"^(?:查一?下)?(?:手机)?尾号\s*(?P<last4>\d{4})(?:的)?(?:客户)?(?:是谁)?[?？]?$"
        ),
    ),
    (LOOKUP, re.compile(r"(?i)^/c\s+(?P<name>.+)$")),
    (NOTE, re.compile(r"(?is)^/note\s+(?P<name>\S+)\s+(?P<content>.+)$")),
    (NOTE, re.compile(r"(?s)^(?:记录|记一下|记下|备注|跟进记录)\s*[:：,，]?\s*(?P<content>.+)$")),
    (
        NOTE,
        re.compile(r"(?s)^(?P<content>(?:刚刚?|刚才|今天|上午|下午)(?:和|跟|与|给|去|拜访).+)$"),
    ),
]


def parse_intent(text: str, *, pending_choice: bool = False) -> Intent:
    """The explicit commands ("/today", "完成 2", "记录：…"); UNKNOWN for everything that needs
    reading in context. A pending clarification takes '1' / '第二个' first."""
    clean = normalise(text)
    if pending_choice:
        number = choice_number(clean)
        if number is not None:
            return Intent(CHOOSE, {"n": str(number)})
    for name, pattern in _RULES:
        m = pattern.match(clean)
        if m:
            args = {k: v.strip() for k, v in m.groupdict().items() if v is not None}
            if "n" in args and not args["n"].isdigit():  # "第二项"
                args["n"] = str(choice_number(args["n"]))
            return Intent(name, args)
    # Everything else is read in context (handlers/understanding): names, periods, fields.
    return Intent(UNKNOWN)
