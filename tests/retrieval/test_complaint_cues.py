"""Rule 4's cues: risky words cancelled by the context that explains them, and leaving said
without a risky word. Sentences are written for these tests, not taken from the eval set."""

from __future__ import annotations

import pytest

from retrieval.complaints import ComplaintDetector, keyword_in
from retrieval.embeddings import E5Embeddings


@pytest.mark.parametrize(
    "text",
    [
        "客户的存单到期后取出，已转存为两年期。",  # reinvested with us
        "客户赎回了货基，接着续买了我行同款产品。",
        "客户表示他行利息略高，但不考虑转，还是放在我行。",  # staying
        "客户说别的银行在搞活动，他不打算动这笔钱。",
        "客户的同事抱怨某行理财亏损，客户只是转述。",  # a third party's story
        "客户的亲戚在别家银行买了存单，很不满意那边的服务。",
        "客户的外婆去世，来办理存款继承和销户。",  # estate
        "客户要交首付，提前支取了一笔定期。",  # cash need
        "客户公司资金周转，赎回了部分理财。",
        "客户把一张闲置的借记卡注销了。",  # redundant card
        "客户把活期的钱转到定期，存了一年。",  # own accounts
        "客户上次投诉的扣费已经退还，客户表示满意。",  # resolved, satisfied
    ],
)
def test_context_cancels_a_risky_word(text: str) -> None:
    assert keyword_in(text) == ""


@pytest.mark.parametrize(
    "text",
    [
        "客户说光大银行的经理最近常约他吃饭，他有些心动。",  # courted
        "客户准备把资金分散到几家银行存。",  # spreading money elsewhere
        "客户这次的存单到期不打算续了。",  # not renewing
        "客户把活期余额都挪到了余额宝。",  # a platform instead of us
        "客户取了20万存到另一家银行。",  # money moved to another bank
        "客户说产品和当初介绍的不一样，要求全额退款。",  # refund demand, mis-selling
        "客户说虽然暂时没动，但下个月会把钱转到他行。",  # "but" undoes staying
        "客户要交首付，提前支取了定期，剩下的也转到招商银行去了。",  # a bank named
        "客户的问题已解决，但客户仍然很不满意。",  # resolved yet unhappy
    ],
)
def test_leaving_or_complaint_is_caught(text: str) -> None:
    assert keyword_in(text) != ""


def test_explained_words_are_not_rescued_by_similarity(e5: E5Embeddings) -> None:
    """A note whose risky words were all explained away is decided by the cues: its neighbours
    in the bank (withdrawals, closures) must not flag it."""
    detector = ComplaintDetector(e5)
    calm = ["客户的父亲过世，来办理账户注销。", "客户买车要用钱，提前支取了部分定期。"]
    assert [s.complaint for s in detector.classify(calm)] == [False, False]
    courted = detector.classify(["客户说竞争对手的经理天天上门，他有点动心。"])
    assert courted[0].complaint
