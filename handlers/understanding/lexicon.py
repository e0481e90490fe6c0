"""The bank's words: fields, products, segments, and the cue words that tell intents apart.

Kept small and explicit: a word here changes how every message is read, so each list says
what it is for. Matching is done on the normalised, lower-cased message.
"""

from __future__ import annotations

import importlib.util
import json
import re
import unicodedata
from functools import cache
from pathlib import Path

# Focused answers about one customer (field -> words that ask for it).
FIELDS: dict[str, tuple[str, ...]] = {
    "aum": ("aum", "资产", "总资产", "金融资产", "存款余额", "多少钱", "身家", "assets"),
    "phone": ("电话", "手机", "号码", "联系方式", "phone", "mobile"),
    "birthday": ("生日", "出生", "birthday"),
    "risk": ("风险等级", "风险评级", "风险承受", "风评", "风险偏好", "风险", "risk"),
    "holdings": ("产品", "持仓", "买了什么", "买了哪些", "配置", "holdings", "products"),
    "maturity": ("到期", "哪天到期", "什么时候到期", "maturity", "maturing", "mature"),
    "segment": ("客户等级", "什么级别", "分层", "segment"),
}
# Product words -> holding.product_type.
PRODUCTS: dict[str, tuple[str, ...]] = {
    "large_cd": ("大额存单", "大额", "存单", "large cd"),
    "time_deposit": ("定期存款", "定期", "定存", "存款", "time deposit", "deposit"),
    "wealth_management": ("理财产品", "理财", "wealth"),
    "fund": ("基金定投", "基金", "定投", "fund"),
    "insurance": ("保险", "insurance"),
    "loan": ("贷款", "房贷", "车贷", "loan"),
}
SEGMENTS: dict[str, tuple[str, ...]] = {
    "vip": ("vip", "贵宾", "私行", "高端客户"),
    "prospect": ("潜在客户", "潜客", "prospect"),
    "regular": ("普通客户", "一般客户", "regular"),
}
# Small talk: the whole message is one of these (after trimming punctuation).
SMALL_TALK = frozenset(
    {
        "谢谢",
        "谢谢你",
        "谢谢啦",
        "多谢",
        "感谢",
        "好的",
        "好",
        "好滴",
        "嗯",
        "嗯嗯",
        "收到",
        "ok",
        "okay",
        "你好",
        "您好",
        "早",
        "早上好",
        "晚安",
        "再见",
        "拜拜",
        "辛苦了",
        "辛苦",
        "辛苦啦",
        "谢啦",
        "多谢了",
        "好哒",
        "哈哈",
        "thanks",
        "thank you",
        "thx",
        "hi",
        "hello",
        "bye",
        "明白",
        "知道了",
        "行",
        "可以",
        "没事",
        "不用了",
        "👍",
        "好嘞",
        "了解",
    }
)
# A bare action word without its item number.
BARE_ITEM_WORDS = frozenset(
    {
        "完成", "已完成", "完成了", "做完了", "办完了", "弄完了", "搞定", "搞定了", "done",
        "推迟", "推迟吧", "延后", "延期", "晚点再说", "snooze",
    }
)  # fmt: skip
MORE_WORDS = frozenset(
    {
        "更多",
        "下一页",
        "还有呢",
        "还有吗",
        "还有",
        "后面的呢",
        "后面呢",
        "继续",
        "再来",
        "再来点",
        "more",
        "next",
    }
)

# Asking to write something down (a note).
NOTE_CUE = re.compile(
    r"^(?:帮我)?(?:记录|记一下|记下|记个|记一笔|备注|跟进记录|补记|写个记录|note|log)"
    r"|帮我记|记录一下|(?:^|\s)/note"
)
# Telling what happened in a contact: a note, when a customer is named.
CONTACT_VERB = re.compile(
    r"通话|通了电话|来电|回电|打电话|打了电话|电话沟通|电话里|见了|见面|面谈|拜访|来访|到访|"
    r"来网点|来行|上门|聊了|聊过|沟通了|谈了|约了|微信|说想|说要|说他|说她|表示|反馈|提到|"
    r"called|met|visited|talked|spoke"
)
PAST_MARK = re.compile(r"刚刚?|刚才|今天|上午|下午|早上|中午|晚上|昨天|昨晚|前天|just|today")
# Asking to be reminded: a follow-up task without a note.
REMIND_CUE = re.compile(r"提醒我|提醒一下|提醒下|叫我|别忘了|记得|remind me|reminder")
# Looking a customer up.
LOOKUP_CUE = re.compile(
    r"查一?下|查询|查查|查|看一?下|看看|帮我看|瞧瞧|调出|打开|资料|情况|信息|档案|画像|"
    r"怎么样|咋样|如何|近况|look up|lookup|show|find|who is|profile"
)
# Questions over the notes: what was said, felt or asked.
NOTE_TOPIC = re.compile(
    r"聊|说过|说了|谈|提过|提到|感兴趣|兴趣|关注|抱怨|投诉|不满|想|要|需求|意向|打算|考虑|顾虑|"
    r"担忧|想法|看法|怎么看|态度|问|"
    r"反馈|担心|问过|咨询|关心|喜欢|偏好|讨论|沟通|交流|discuss|talk|mention|interest|complain"
)
QUESTION_CUE = re.compile(
    r"谁|哪些|哪位|哪里|到哪|什么|啥|吗|么|怎么|有没有|是否|多少|几|[?？]|who|what|which"
)
LIST_CUE = re.compile(
    r"哪些|哪几|有谁|谁|名单|列表|列出|清单|所有|全部|都有|有多少|多少个|多少位|几个|几位|"
    r"客户们|客户有|客户是|的客户|\blist\b|which|who|how many|all my"
)
COUNT_CUE = re.compile(r"多少|几个|几位|数量|总数|how many|count")
MY_CUSTOMERS = re.compile(
    r"我的客户|我有多少客户|我有几个客户|客户总数|客户数|名下客户|my customers"
)
TODAY_CUE = re.compile(
    r"今天要做什么|今天做什么|今天干什么|今天干啥|今日待办|待办|今天有什么|今天有啥|今天的安排|"
    r"今天安排|今日安排|今天的任务|今日任务|今天忙什么|日程|今天有哪些事|今天.{0,4}要办|要办的事|"
    r"的安排|有什么安排|有啥安排|要干嘛|干嘛|要做啥|要做什么|要做的事|"
    r"what.?s on today|my day|\btoday\b|/today"
)
# A staff member's customers: "李娜名下的VIP", "王磊负责的客户", "李娜手里哪些客户…".
OWNER_CUE = re.compile(r"名下|负责|管的|手上|手里")
# A staff member's own work, asked about by name ("李娜这周跟进了几个客户").
STAFF_WORK_CUE = re.compile(r"跟进了|联系了|拜访了|记录了|记了|业绩|表现|工作量")
# Words that start with a surname but are times, never names ("周四的安排", "时候").
NOT_A_NAME = re.compile(r"周[一二三四五六日天末几]|星期|时候|时间|月底|月初|年底|年初")
FOLLOWUP_LIST = re.compile(
    r"待跟进|要跟进|需要跟进|该跟进|逾期|没跟进|未跟进|(?:要|需要|该|待)回访|回访(?:哪些|谁)|"
    r"follow.?ups?"
)
BIRTHDAY_WORD = re.compile(r"生日|birthday")
MATURITY_WORD = re.compile(r"到期|matur")
AMOUNT_OP_UP = re.compile(r"以上|超过|大于|不低于|至少|起|多于|above|over|more than|at least")
AMOUNT_OP_DOWN = re.compile(r"以下|不到|低于|少于|小于|不超过|below|under|less than")
TAG_ASK = re.compile(r"(?:标签|tag)")


def words_in(text: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    """The keys of `table` whose words occur in `text`, in the order of the table."""
    lowered = text.lower()
    return [key for key, words in table.items() if any(w in lowered for w in words)]


# Common Chinese surnames (about nine in ten people carry one of these): a word that starts
# with one and stands where a name stands is read as a name, visible or not.
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶"
    "程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾"
    "毛郝龚邵万钱严覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关"
    "兰焦俞左柳甘祝包宁尚符舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻"
)
COMPOUND_SURNAMES = ("欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "慕容", "令狐", "司徒")
# What follows a name in a request ("侯俊峰电话多少", "姜诗涵上次聊了什么").
AFTER_NAME = re.compile(
    r"的|上次|最近|之前|对|电话|手机|号码|尾号|生日|有|是|想|怎么|资产|aum|风险|持仓|产品|理财|基金|"
    r"存单|大额|定期|保险|贷款|到期|聊|说|这|那|吗|呢|情况|资料|信息|在|要|和|跟|今天|明天|后天|"
    r"下周|周[一二三四五六日天]|来|打|提醒|怎样|如何|近况|多少|几|为什么|[,，。?？!！\s]|"
    # a note's contact verbs and times ("刚和赵敏通话", "李阿姨上午来网点")
    r"通话|通了|回电|见了|见面|面谈|拜访|到访|上门|刚|上午|下午|早上|中午|晚上|昨天",
    re.IGNORECASE,
)
NAME_BEFORE = "查看给跟和与找问把帮将 ，,：:"
# Words after which a name may follow directly ("查一下龙若曦", "电话 龙若曦" once spaces go).
WORDS_BEFORE_NAME = ("一下", "查下", "看下", "电话", "手机", "资料", "情况", "生日", "资产", "号码")
HELP_CUE = re.compile(
    r"你会什么|你能干|能干啥|能做什么|可以做什么|会做什么|怎么用|如何使用|使用说明|说明书|怎么问|"
    r"有什么功能|哪些功能|功能列表|帮助|what can you do|how do i use|help me use"
)


def _sounds(text: str) -> str:
    from pypinyin import lazy_pinyin

    return "|" + "|".join(lazy_pinyin(text)) + "|"


def _toneless(reading: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFD", reading) if not unicodedata.combining(c))


@cache
def _pinyin_table() -> dict[str, str]:
    """pypinyin's own character table (code point -> readings), read from its file: importing
    pypinyin loads its phrase dictionary too (0.3 s per process)."""
    spec = importlib.util.find_spec("pypinyin")
    if spec is None or not spec.submodule_search_locations:
        return {}
    path = Path(next(iter(spec.submodule_search_locations))) / "pinyin_dict.json"
    table: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return table


@cache
def _readings(ch: str) -> frozenset[str] | None:
    """Every tone-less reading of a character, or None when pypinyin has none."""
    readings = _pinyin_table().get(str(ord(ch)))
    return frozenset(_toneless(r) for r in readings.split(",")) if readings else None


# Characters that some pypinyin phrase reads in a way their own entry lacks (pypinyin 0.55,
# checked over its whole phrase dictionary): they may sound like anything.
_ODD_READINGS = frozenset("乐干燵着")
_LATIN = re.compile(r"[a-z]", re.IGNORECASE)


def _same_sound(typed: str, wanted: str) -> bool:
    if typed == wanted or typed in _ODD_READINGS or wanted in _ODD_READINGS:
        return True
    heard, meant = _readings(typed), _readings(wanted)
    return heard is not None and meant is not None and not heard.isdisjoint(meant)


def _may_sound_like(text: str, word: str) -> bool:
    """False only when no reading of `text` can sound like `word`, so that pypinyin need not
    load: no run of characters shares, one by one, a reading with the word's."""
    if not _pinyin_table() or _LATIN.search(text) or any(_readings(ch) is None for ch in word):
        return True  # latin spells syllables ("dian话"): leave it to pypinyin
    return any(
        all(_same_sound(a, b) for a, b in zip(text[i : i + len(word)], word, strict=True))
        for i in range(len(text) - len(word) + 1)
    )


def words_by_sound(text: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    """Like `words_in`, by tone-less pinyin: typed homophones ("电化" for 电话, "姿产" for
    资产) find their word. Only Chinese words of two or more characters count."""
    candidates = [
        w for words in table.values() for w in words if len(w) >= 2 and "\u4e00" <= w[0] <= "\u9fff"
    ]
    if not any(_may_sound_like(text, w) for w in candidates):
        return []
    heard = _sounds(text)
    return [
        key
        for key, words in table.items()
        if any(len(w) >= 2 and "\u4e00" <= w[0] <= "\u9fff" and _sounds(w) in heard for w in words)
    ]
