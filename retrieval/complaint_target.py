"""Two inputs of rule 4's model that the cues do not give: whose trouble a note is about, and
which way the money goes.

- `aimed`: whom the note's complaint is aimed at. -1 (`elsewhere`): someone or something other
  than us (a shop, a landlord, the weather, another bank's adviser); a small grammar: a
  complaint word, and in its clause a subject or object from OTHER_TARGETS and nothing of ours
  (OURS). +1: something of ours in the complaint's clause. 0: no complaint, or no target named
  (a complaint about prices or business at large is no more ours than someone else's).
- `direction`: money going out of the bank (+1: 转出, 转到他行, 挪到…, to the customer's own
  account at another bank, the payroll or the relationship signed with another bank) against
  money coming in (-1: 转入, 转到我行, 从他行…); 0 when the note says neither or both. Within a
  clause the destination decides: another bank named in a clause whose money comes to us is
  the source.

Both are short patterns, so that a wrong call can be traced to the words that made it.
"""

from __future__ import annotations

import re

from retrieval.complaint_cues import CLAUSE, COMPETITOR, TO_US, Kind, hits, negated

# Words that voice displeasure, beyond the complaint cues: the target decides whose it is.
GRUMBLE = re.compile(r"吐槽|骂|差评|烦|闹心|糟心|窝火|受气|倒霉")
# Who or what a complaint can be about when it is not us: traders and services, the home,
# the weather and traffic, an employer, another bank or its staff.
OTHER_TARGETS = re.compile(
    r"商家|店家|卖家|商场|超市|网购|网店|淘宝|快递|外卖|餐厅|饭店|酒店|航空|机场|医院|学校|老师"
    r"|物业|房东|租客|中介|开发商|装修|4S店|运营商|保险公司|老板|领导|单位|公司"
    r"|那边|那家|天气|下雨|台风|高温|太热|太冷|堵车|交通|地铁"
    r"|" + COMPETITOR.pattern
)
# Words that put us in the clause: our bank, our people and channels, our products and fees.
OURS = re.compile(
    r"我行|本行|我们|咱们|这边|网点|柜台|柜员|大堂|客服|手机银行|网银|APP|app|理财经理|客户经理"
    r"|年费|手续费|管理费|利率|利息|收益|理财|存款|存单|基金|产品|服务|排队|转账"
)


# The other target's people or products ("招行的客户经理"): theirs, not ours.
THEIR_STAFF = re.compile(r"^的?(经理|客户经理|理财经理|柜员|客服|员工|服务|产品)")


def _about_others(clause: str) -> bool:
    """A clause whose complaint has another target and none of ours (another bank's adviser
    counts as theirs: the adviser word follows the other bank's name)."""
    other = OTHER_TARGETS.search(clause)
    if other is None:
        return False
    after = THEIR_STAFF.sub("", clause[other.end() :])
    return not OURS.search(clause[: other.start()] + after)


def elsewhere(text: str) -> bool:
    """The note complains, and every complaint in it is aimed at someone or something else."""
    starts = [h.start for h in hits(text) if h.kind is Kind.COMPLAINT]
    starts += [m.start() for m in GRUMBLE.finditer(text) if not negated(text, m.start())]
    if not starts:
        return False
    clauses = list(CLAUSE.finditer(text))
    judged = []
    for i, clause in enumerate(clauses):
        if any(clause.start() <= s < clause.end() for s in starts):
            own = clause.group(0)
            if i and not OTHER_TARGETS.search(own) and not OURS.search(own):
                own = clauses[i - 1].group(0) + "，" + own  # "招行的经理很敷衍，客户很生气"
            judged.append(own)
    return all(_about_others(own) for own in judged)


def aimed(text: str) -> int:
    """Whom the note's complaint is aimed at: -1 someone or something else (`elsewhere`), +1 us
    (something of ours in a complaint's clause or the one before it), 0 when the note complains
    of nothing or names no target ("客户抱怨补课费太贵" says nothing of us)."""
    starts = [h.start for h in hits(text) if h.kind is Kind.COMPLAINT]
    starts += [m.start() for m in GRUMBLE.finditer(text) if not negated(text, m.start())]
    if not starts:
        return 0
    if elsewhere(text):
        return -1
    clauses = list(CLAUSE.finditer(text))
    for i, clause in enumerate(clauses):
        if any(clause.start() <= s < clause.end() for s in starts):
            before = clauses[i - 1].group(0) if i else ""
            if OURS.search(before + "，" + clause.group(0)):
                return 1
    return 0


# Money or business going out: taken out, or put with another bank, a platform, the customer's
# own account elsewhere; the payroll or the relationship signed with another bank. An account
# the customer holds elsewhere ("自己在券商炒股") is a holding described, not a move: only a verb
# that moves money makes it one ("转到自己在建行的卡上").
OUTBOUND = re.compile(
    r"转出|转走|取走|提走|挪走|搬走|撤走|挪到|挪去|挪过去|转过去|搬过去"
    r"|(转|挪|搬|存|放|划|调|打)(到|去|进|入|给)了?.{0,6}"
    r"(" + COMPETITOR.pattern + r"|那边|别处|外面)"
    r"|(代发|工资|签约|签了|合作|结算|主办行).{0,8}(" + COMPETITOR.pattern + r")"
    r"|(" + COMPETITOR.pattern + r").{0,8}(代发|签约|签了|合作协议|主办行)"
)
# Money coming to us: into an account here, back to us, or from another bank.
INBOUND = re.compile(
    r"转入(?!.{0,3}(" + COMPETITOR.pattern + r"))|汇入|转回|转来|存进来|拿过来|带过来|挪回"
    r"|(迁|调|划|移|搬|挪|转)(到|入|进|来)了?(我行|本行|我们行|我们这)"
    r"|从.{0,6}(" + COMPETITOR.pattern + r").{0,12}(转|调|挪|搬|划|取|拿|归集)"
)


def _inbound(clause: str) -> bool:
    return bool(TO_US.search(clause)) or any(
        not negated(clause, m.start()) for m in INBOUND.finditer(clause)
    )


def _outbound(clause: str) -> bool:
    for m in OUTBOUND.finditer(clause):
        if negated(clause, m.start()):
            continue
        if m.group(0).startswith("从") or "从" in clause[max(0, m.start() - 8) : m.start()]:
            continue  # "从他行转到…" is the source, not the destination
        return True
    return False


def direction(text: str) -> int:
    """+1 when money goes out, -1 when it comes in, 0 when neither or both is said. The
    destination decides within a clause: another bank named in a clause whose money comes to us
    is where it comes from ("把另一家银行的代发迁到我行"), not where it goes."""
    clauses = [clause.group(0) for clause in CLAUSE.finditer(text)]
    inbound = [_inbound(clause) for clause in clauses]
    outbound = any(_outbound(c) for c, i in zip(clauses, inbound, strict=True) if not i)
    return int(outbound) - int(any(inbound))
