"""Rule 4's word cues: the words that say a note is a complaint or a customer leaving, and
the context that cancels them.

A risky word means different things in different notes ("赎回" then "续买" is a customer
staying), so every hit has a kind, and each kind is cancelled by its own context:

- COMPLAINT (displeasure, refund demands, mis-selling): stands unless the matter was resolved
  and the customer is satisfied, or the complaint is someone else's (a friend's).
- MONEY_OUT (redemption, withdrawal, closure, a transfer out): money leaves for many ordinary
  reasons. Reinvesting with us, a purchase or a cash need, an estate, a redundant card and
  moving between the customer's own accounts cancel it, unless another bank is named.
- LEAVING (another bank, moving the relationship, not renewing, being courted, spreading money
  elsewhere): cancelled when the customer says they stay, or when it is a third party's story.

Money coming to us ("转到我行") cancels every kind. Everything here is a short list or pattern
so that a wrong call can be traced to the word that made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


class Kind(Enum):
    """What a hit says, which decides what can cancel it."""

    COMPLAINT = "complaint"
    MONEY_OUT = "money_out"
    LEAVING = "leaving"


COMPLAINT_WORDS = (
    "抱怨", "投诉", "不满意", "不满", "收益太低", "收益低", "利率低", "失望", "生气", "不高兴",
    "不想再买", "没信心", "被坑", "误导", "敷衍", "反感", "争执", "吵了", "嗤之以鼻",
    "颇有微词", "有微词", "意见很大", "很有意见", "有看法", "恼火", "气愤", "埋怨", "牢骚",
    "不信任", "讨个说法", "给个说法", "不踏实", "耿耿于怀", "没有竞争力", "隐瞒", "夸大",
)  # fmt: skip
MONEY_OUT_WORDS = (
    "转走", "转出", "转到", "销户", "销掉", "注销", "关闭所有账户", "关闭账户", "赎回",
    "提前支取", "取走", "拿走", "提走",
)  # fmt: skip
LEAVING_WORDS = (
    "换银行", "换一家", "去他行", "去别的银行", "他行", "别家银行", "别的银行", "竞争行",
    "打算过去", "准备过去", "考虑换", "换家", "换个银行", "别处", "别家", "其他银行",
    "不放我们", "不再放", "不在我们这", "另做打算", "不来了", "挪过去", "转过去", "迁过去",
    "分过去", "放过去", "撤出", "撤走",
)  # fmt: skip
WORDS = (
    [(w, Kind.COMPLAINT) for w in COMPLAINT_WORDS]
    + [(w, Kind.MONEY_OUT) for w in MONEY_OUT_WORDS]
    + [(w, Kind.LEAVING) for w in LEAVING_WORDS]
)

# Phrases a word list cannot hold; a negation right before one cancels it ("不要求赔偿").
PATTERNS = (
    # A refund or compensation demanded: displeasure even when no angry word is written.
    (re.compile(r"(要求|要|坚持|索要|讨要).{0,6}(退保|退款|退费|退钱|赔偿|赔钱|退还|返还|补偿)"),
     Kind.COMPLAINT),
    # Mis-selling: the product is not what was promised.
    (re.compile(r"(和|跟|与)(当初|之前|当时|原来).{0,8}不一样|承诺的.{0,6}没(兑现|做到)"),
     Kind.COMPLAINT),
    # Not renewing ("到期不续了", "没有续存"), but not a fee that stops ("不续费").
    (re.compile(r"(不|没有?)(再|打算|准备|想)?续(?!费)"), Kind.LEAVING),
    # Spreading money over several banks.
    (re.compile(r"分散?(到|去|在|存到|存在)?.{0,4}(几家|多家|别家|各家|其他银行|不同的?银行)"
                r"|(拆开|分开)(放|存).{0,3}(几个|多个)(地方|银行)"),
     Kind.LEAVING),
)  # fmt: skip

# Another bank or a platform named: it turns money out into money leaving, whatever the reason.
COMPETITOR = re.compile(
    r"竞争行|竞争对手|他行|别家|别的银行|其他银行|另一家|另外一家|有家银行|隔壁.{0,2}行|外资行"
    r"|(招商|工商|建设|农业|交通|邮储|平安|兴业|浦发|中信|民生|光大|华夏|广发|浙商)银行"
    r"|招行|工行|建行|农行|中行|交行|邮储|券商|余额宝|零钱通|理财通|支付宝"
)
# Money put into another bank, a broker or a platform ("存到另一家银行", "转进了余额宝");
# "存款在他行" is a holding described, not a move, hence no 款 after the verb.
MOVED_OUT = re.compile(
    r"(转|放|存|挪|买|投|搬)(?!款)了?(到|去|进|在)?了?.{0,3}(" + COMPETITOR.pattern + ")"
)
# Being courted: a competitor who calls, visits or woos, or a customer tempted by one.
COURTING = re.compile(r"(约|找|拉|请)(他|她|客户)|找上门|挖|上门|游说|推销|邀请|送了?礼|动心|心动")

# A negation this close before a hit says the opposite ("没有什么不满意", "不打算转走").
NEGATIONS = ("没有", "没", "无", "不打算", "不会", "并未", "未", "不想", "不要求")
NEGATION_REACH = 4  # characters before a hit searched for a negation

# Money comes to us, or is put back with us: nothing in the note is churn. A direction (到, 进…)
# or a 了 is required: "钱放我们这儿不划算" is not money coming in.
TO_US = re.compile(
    r"(转|存|放|挪|搬|带|投)(了?(到|入|进|来|回|成|为)了?|了)(我行|本行|我们行|我们这)"
    r"|转过来|带资金过来|存回来|再存回"
)
# Money out put straight back into our products: a redemption or maturity that stays.
REINVESTED = re.compile(
    r"续买|续存|续作|转存|继续买|再买|复投|买(了|入|进)?了?(我行|本行)|仍在我行|留在我行|用于买我行"
    r"|赎回后(买|续|转投)"
)
# The customer says the money stays ("不打算动", "还是放在我行", "没有换的打算").
# "再不换经理就转走" is a threat, not staying: a negation after 再 does not count.
STAYING = re.compile(
    r"(?<!再)(不|没|没有|未)(打算|考虑|想|准备|会)?(把钱|资金)?(动|变动|调整|转|换|走|挪|搬)"
    r"|(还是|继续|仍然?|依然|照样)(把钱)?(放|存|留|在)在?(我行|我们|这边|这里|本行|咱们)"
    r"|没有?(换|转|走|挪)的?(打算|想法|意思)|(没|没有|不感)兴趣|婉拒|拒绝了|不为所动"
)
# "但" between a staying cue and a later hit lets the hit stand ("暂时没动，但到期后会转过去").
CONTRAST = re.compile(r"但|不过|可是|然而")
# A purchase or a cash need: money out for a reason that is not displeasure.
LIQUIDITY = re.compile(
    r"周转|买.{0,2}房|购房|房款|首付|装修|买车|学费|看病|医药费|住院|手术|婚礼|结婚|急用"
    r"|资金紧张|还贷|还房贷|家里用钱|开销|留学"
)
# The account holder died: closing or emptying the account is settling an estate.
ESTATE = ("已故", "过世", "去世", "逝世", "身故", "离世", "亡故", "继承", "遗产")
# Closing a card or account the customer does not use is tidying up, not leaving.
REDUNDANT = re.compile(
    r"(多余|不常用|不用的|闲置|用不上|重复|多办|睡眠|长期不用|很少用|没怎么用)的?.{0,4}(卡|账户|张)"
)
# Moving money between the customer's own accounts with us.
OWN_ACCOUNTS = re.compile(
    r"(自己|本人)(的|名下)|名下的?另一|另一张卡|(我行|本行)的?(另一|其他)"
    r"|(活期|定期).{0,3}转(到|成|为)?(定期|活期|理财)|转(成|为)(定期|活期|大额存单|理财|通知存款)"
)
# A complaint resolved to the customer's satisfaction: both must be written.
RESOLVED = re.compile(
    r"已经?(解决|处理好?|修复|退还|退回|返还|撤销|恢复|到账|补发|更正)|解决了|处理好了|修复了"
    r"|处理完毕|办妥|解释后|说明后"
)
SATISFIED = (
    "满意", "理解", "感谢", "放心", "认可", "明白了", "挺顺", "没意见", "没问题", "撤回投诉",
)  # fmt: skip
# People other than the customer whose story the customer tells ("朋友抱怨…").
# Family is left out: a spouse's or child's money is often the household's, so theirs counts.
THIRD_PARTIES = re.compile(r"朋友|亲戚|同事|邻居|同学|熟人|战友|老乡|别人|其他客户|另一位客户")
CLAUSE = re.compile(r"[^，。；！？,;!?]+")
SUBJECT = re.compile(r"^(客户|他|她|本人|自己)")  # a clause that names its own subject
# A clause whose subject is a third party ("客户的朋友…", "他同事…").
TOLD = re.compile(r"^(客户|他|她)?的?(" + THIRD_PARTIES.pattern + ")")


@dataclass(frozen=True)
class Hit:
    """A risky word or phrase found in a note."""

    word: str
    kind: Kind
    start: int


def negated(text: str, start: int) -> bool:
    """A negation just before `start` ("不打算转走"); a bare 不 right before counts too."""
    before = text[max(0, start - NEGATION_REACH) : start]
    return any(n in before for n in NEGATIONS) or before.endswith("不")


def _affirmed(text: str, words: tuple[str, ...]) -> bool:
    """One of `words` said without a 不/没 just before it ("满意" but not "不太满意")."""
    for word in words:
        for found in re.finditer(re.escape(word), text):
            before = text[max(0, found.start() - 2) : found.start()]
            if "不" not in before and "没" not in before:
                return True
    return False


def said(pattern: re.Pattern[str], text: str) -> bool:
    """`pattern` occurs in `text` not negated ("续存" but not "没有续存")."""
    return any(not negated(text, m.start()) for m in pattern.finditer(text))


def hits(text: str) -> list[Hit]:
    """Every risky word or phrase in `text` that is not negated, in list order."""
    found: list[Hit] = []
    for word, kind in WORDS:
        found += [Hit(word, kind, m.start()) for m in re.finditer(re.escape(word), text)]
    for pattern, kind in PATTERNS:
        found += [Hit(m.group(0), kind, m.start()) for m in pattern.finditer(text)]
    found += [Hit(m.group(0), Kind.LEAVING, m.start()) for m in MOVED_OUT.finditer(text)]
    found += _courted(text)
    return [h for h in found if not negated(text, h.start)]


def _courted(text: str) -> list[Hit]:
    """A competitor wooing the customer ("竞争行的经理天天约他，他有点动心了")."""
    competitor = COMPETITOR.search(text)
    if competitor is None:
        return []
    wooed = COURTING.search(text, competitor.end())
    if wooed is None or wooed.start() - competitor.end() > 15:
        return []
    return [Hit(text[competitor.start() : wooed.end()], Kind.LEAVING, competitor.start())]


def third_party(text: str, start: int) -> bool:
    """The hit at `start` is someone else's story: a third party named before it in its clause,
    or a third party as the subject of the previous clause when this one names none."""
    previous = ""
    for clause in CLAUSE.finditer(text):
        if clause.start() <= start < clause.end():
            own = text[clause.start() : start]
            if THIRD_PARTIES.search(own):
                return True
            return bool(TOLD.match(previous)) and not SUBJECT.match(clause.group(0))
        previous = clause.group(0)
    return False


def stays(text: str, start: int) -> bool:
    """The customer says the money stays, after the hit at `start` or before it with no
    "but" in between."""
    for found in STAYING.finditer(text):
        if found.start() > start or not CONTRAST.search(text, found.end(), start):
            return True
    return False


def _money_out_explained(text: str) -> bool:
    """Money out for an ordinary reason, and no other bank named to say where it goes."""
    if COMPETITOR.search(text):
        return False
    return bool(
        said(REINVESTED, text)
        or LIQUIDITY.search(text)
        or any(word in text for word in ESTATE)
        or REDUNDANT.search(text)
        or OWN_ACCOUNTS.search(text)
    )


def cancelled(text: str, hit: Hit) -> bool:
    """Whether the note's context takes back what the hit says."""
    if third_party(text, hit.start):
        return True
    if hit.kind is Kind.COMPLAINT:
        return bool(RESOLVED.search(text)) and _affirmed(text, SATISFIED)
    if stays(text, hit.start):
        return True
    return hit.kind is Kind.MONEY_OUT and _money_out_explained(text)


def decisive(text: str) -> str:
    """The first hit in `text` that its context does not cancel, or ''."""
    if said(TO_US, text):
        return ""
    for hit in hits(text):
        if not cancelled(text, hit):
            return hit.word
    return ""


def calm(text: str) -> bool:
    """Context saying the customer stays or is content: similarity alone must not flag it."""
    return bool(
        said(TO_US, text)
        or said(REINVESTED, text)
        or STAYING.search(text)
        or (RESOLVED.search(text) and _affirmed(text, SATISFIED))
        or any(word in text for word in ESTATE)
        or TOLD.match(text)
    )
