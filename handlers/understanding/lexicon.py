"""The bank's words: fields, products, segments, and the cue words that tell intents apart.

Kept small and explicit: a word here changes how every message is read, so each list says
what it is for. Matching is done on the normalised, lower-cased message.
"""

from __future__ import annotations

import re

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
    "fund": ("基金", "fund"),
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
BARE_ITEM_WORDS = frozenset({"完成", "已完成", "搞定", "done", "推迟", "延后", "snooze", "延期"})
MORE_WORDS = frozenset({"更多", "下一页", "还有呢", "继续", "more", "next", "再来"})

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
    r"聊|说过|说了|谈|提过|提到|感兴趣|兴趣|关注|抱怨|投诉|不满|想|要|需求|意向|打算|考虑|"
    r"反馈|担心|问过|咨询|关心|喜欢|偏好|讨论|沟通|交流|discuss|talk|mention|interest|complain"
)
QUESTION_CUE = re.compile(
    r"谁|哪些|哪位|什么|啥|吗|么|怎么|有没有|是否|多少|几|[?？]|who|what|which"
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
    r"今天安排|今日安排|今天的任务|今日任务|今天忙什么|日程|"
    r"what.?s on today|my day|\btoday\b|/today"
)
FOLLOWUP_LIST = re.compile(r"待跟进|要跟进|需要跟进|该跟进|逾期|没跟进|未跟进|follow.?ups?")
BIRTHDAY_WORD = re.compile(r"生日|birthday")
MATURITY_WORD = re.compile(r"到期|matur")
AMOUNT_OP_UP = re.compile(r"以上|超过|大于|不低于|至少|起|多于|above|over|more than|at least")
AMOUNT_OP_DOWN = re.compile(r"以下|不到|低于|少于|小于|不超过|below|under|less than")
TAG_ASK = re.compile(r"(?:标签|tag)")


def words_in(text: str, table: dict[str, tuple[str, ...]]) -> list[str]:
    """The keys of `table` whose words occur in `text`, in the order of the table."""
    lowered = text.lower()
    return [key for key, words in table.items() if any(w in lowered for w in words)]
