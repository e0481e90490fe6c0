"""Rule 4's note classifier: does a note say the customer complains or means to leave?

Two signals, never an LLM: a keyword list (with a guard against negations such as "没有不满"
and against money coming *to* us) and similarity to a bank of labelled example notes, both
complaints and their look-alikes (a solved problem, a happy customer). A note is flagged
when a keyword hits, or when most of its nearest examples are complaints. Example vectors are
embedded once per process; note vectors are the ones the note index already stores.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from retrieval.complaint_bank import EXAMPLES
from retrieval.embeddings import E5Embeddings

KEYWORDS = (
    "抱怨", "投诉", "不满意", "不满", "转走", "转出", "转到", "挪过去", "转过去", "销户",
    "销掉", "注销", "关闭所有账户", "关闭账户", "赎回", "收益太低", "收益低", "利率低",
    "换银行", "换一家", "去他行", "去别的银行", "他行", "别家银行", "别的银行", "提前支取",
    "取走", "失望", "生气", "不高兴", "不想再买", "没信心", "被坑", "误导", "敷衍", "反感",
    "争执", "吵了", "嗤之以鼻",
    # Paraphrases with no word above: displeasure said mildly, leaving said sideways.
    "颇有微词", "有微词", "意见很大", "很有意见", "有看法", "恼火", "气愤", "埋怨", "牢骚",
    "不信任", "讨个说法", "给个说法", "要求赔偿", "要求退保", "要退保", "不踏实", "耿耿于怀",
    "没有竞争力",
    "打算过去", "准备过去", "考虑换", "换家", "换个银行", "别处", "别家", "其他银行", "拿走",
    "撤出", "撤走", "迁过去", "不放我们", "不再放", "不在我们这", "另做打算", "不来了",
)  # fmt: skip
# A keyword shortly after one of these says the opposite ("没有什么不满意", "不打算转走").
NEGATIONS = ("没有", "没", "无", "不打算", "不会", "并未", "未", "不想")
# A keyword inside one of these says money comes to us, or the matter is settled.
SETTLED = re.compile(
    r"(转到我行|转过来|转入我行|转来我行|存到我行|带资金过来|之前投诉的.{0,12}已经?解决|赎回后(买|续|转投)我行"
    r"|赎回.{0,8}买我行|用于买我行|赎回后买我行)"
)
# A note saying one of these is a contented customer: its neighbours alone do not flag it.
CONTENT = ("续存", "续作", "满意", "夸", "认可", "感谢", "挺顺", "开心", "高兴", "追加")
NEGATION_REACH = 4  # characters before a keyword searched for a negation
# e5 similarities are compressed (0.90-0.99 between any two notes here), so one threshold on
# the best match separates poorly; a vote of the nearest labelled examples does much better.
# With 93 examples, the 3 nearest all being complaints beat 4 of 5 on the tuning notes
# (a wider vote let unrelated life events, such as a parent in hospital, ride on its edge).
NEIGHBOURS = 3
VOTES = 3  # of the NEIGHBOURS nearest examples must be complaints
SAME_TEXT = 0.9999  # an example identical to the note does not vote on it


@dataclass(frozen=True)
class Signal:
    """What the classifier found in one note."""

    complaint: bool
    score: float  # share of the nearest examples that are complaints
    matched: str  # the keyword, or the example sentence, that decided it


def keyword_in(text: str) -> str:
    """The first complaint keyword not negated in `text`, or ''."""
    if SETTLED.search(text):
        return ""
    for word in KEYWORDS:
        for found in re.finditer(re.escape(word), text):
            before = text[max(0, found.start() - NEGATION_REACH) : found.start()]
            # "不打算过去", "不考虑换": a bare 不 right before the keyword negates it too.
            if not any(n in before for n in NEGATIONS) and not before.endswith("不"):
                return word
    return ""


def _settled_or_content(text: str) -> bool:
    return bool(SETTLED.search(text)) or any(word in text for word in CONTENT)


class ComplaintDetector:
    """Keywords plus similarity to the example bank (embedded once, passage form)."""

    _lock = threading.Lock()

    def __init__(self, embeddings: E5Embeddings | None = None) -> None:
        self.embeddings = embeddings or E5Embeddings()
        self._bank: NDArray[np.float32] | None = None
        self._labels = np.array([label for _, label in EXAMPLES], dtype=bool)

    def _examples(self) -> NDArray[np.float32]:
        with self._lock:
            if self._bank is None:
                self._bank = self.embeddings.passages([text for text, _ in EXAMPLES])
            return self._bank

    def _vote(self, similarities: NDArray[np.float32]) -> tuple[float, int]:
        """(share of complaint votes, index of the nearest complaint example or -1)."""
        order = [int(i) for i in np.argsort(-similarities) if similarities[i] < SAME_TEXT]
        nearest = order[:NEIGHBOURS]
        votes = [i for i in nearest if self._labels[i]]
        return len(votes) / max(len(nearest), 1), (votes[0] if votes else -1)

    def classify(
        self, texts: Sequence[str], vectors: NDArray[np.float32] | None = None
    ) -> list[Signal]:
        """One signal per text; `vectors` are the texts' passage vectors if already known."""
        if not texts:
            return []
        if vectors is None:
            vectors = self.embeddings.passages(list(texts))
        similarities = vectors @ self._examples().T
        signals: list[Signal] = []
        for i, text in enumerate(texts):
            share, nearest = self._vote(similarities[i])
            word = keyword_in(text)
            if word:
                signals.append(Signal(True, share, word))
            elif share >= VOTES / NEIGHBOURS and not _settled_or_content(text):
                signals.append(Signal(True, share, EXAMPLES[nearest][0][:100]))
            else:
                signals.append(Signal(False, share, ""))
        return signals
