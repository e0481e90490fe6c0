"""The reply is no membership oracle: naming a hidden customer and naming nobody give the same
reply, through every path (note echo, look-ups, the card of one's own notes, undo, the LLM),
however the name is spelt; fixed texts never change because a hidden customer exists."""

from __future__ import annotations

from datetime import timedelta

import pytest

from crm_store.notes import record_note
from crm_store.permissions import load_actor
from crm_store.store import Store
from handlers.contracts import Reply
from handlers.guard import guard_reply
from retrieval.index import NoteIndex
from retrieval.sync import drain_outbox
from tests.assistant import Assistant
from tests.retrieval_llm.stub_llm import StubLLM
from tests.security.oracle_world import HIDDEN, PLACEHOLDER, SPELLINGS, build, same_shape
from tests.security.surfaces import assistant
from tests.world import NOW, TODAY, customer

# What an RM might send that carries a name of their choosing.
PROBES = [
    # A question: the LLM sees it and echoes its prompt. Asked while each RM has one note, as
    # with more the ranking would follow the (different) query vectors.
    "{name}上次聊了什么？",
    "/note 赵敏 朋友：{name}、张三丰，下周二回访",
    "查一下{name}",
    "{name}最近怎么样",
    "/c {name}",
    "尾号3333的客户",
    "记录：刚和赵敏通话，{name}也在，后天回电",
    "/c 赵敏",  # the card shows the RM's own notes naming {name}
    "今天要做什么",
    "撤销",
    "/note 赵敏 {name}",
]


def replies(bot: Assistant, staff_id: str, name: str) -> list[str]:
    """Every probe as `staff_id`, a minute apart, each reply with the name taken out."""
    out = []
    for i, probe in enumerate(PROBES):
        bot.now = NOW + timedelta(minutes=i)
        out.append(same_shape(bot.say(staff_id, probe.format(name=name)).text, name))
    return out


@pytest.mark.parametrize(("hidden", "nobody"), SPELLINGS)
def test_naming_a_hidden_customer_or_nobody_gives_the_same_replies(
    store: Store, index: NoteIndex, stub: StubLLM, hidden: str, nobody: str
) -> None:
    build(store)
    bot = assistant(store, index, stub)
    for staff_id in ("ra", "rb"):  # one note each, so both questions find the same
        bot.say(staff_id, "/note 赵敏 想了解大额存单")
    drain_outbox(store, index)
    ra, rb = replies(bot, "ra", hidden), replies(bot, "rb", nobody)
    for i, (a, b) in enumerate(zip(ra, rb, strict=True)):
        assert a == b, f"probe {PROBES[i]!r}"
    assert any(PLACEHOLDER in text for text in ra), "no probe echoed the name"


COMMON_WORDS = ["客户", "跟进", "手机", "尾号"]
FIXED = ["帮助", "查一下何俊峰", "/c 赵敏", "今天要做什么", "我的VIP客户", "尾号9999的客户"]


def test_a_hidden_customer_named_with_a_common_word_changes_no_reply(store: Store) -> None:
    build(store)
    bot = Assistant(store, NOW)
    bot.say("ra", "/note 赵敏 客户想了解理财，跟进手机银行，下周二回访")
    before = [bot.say("ra", text).text for text in FIXED]
    with store.db.write() as s:
        for i, word in enumerate(COMMON_WORDS):
            s.add(
                customer(store.cipher, f"w{i}", word, "rm9", "B9", "vip", f"1390000{i:04d}", None)
            )
    after = [bot.say("ra", text).text for text in FIXED]
    assert after == before
    assert all(word in "\n".join(after) for word in COMMON_WORDS)


# Model output (or a colleague's note) naming a hidden customer, however it is written.
MODEL_SPELLINGS = [
    "何俊杰",
    "何 俊 杰",
    "何\u200b俊\u200c杰",
    "何\u3000俊杰",
    "何·俊·杰",
    "何俊傑",
    "ＨＥ ＪＵＮＪＩＥ",
    "He Junjie",
    "hejunjie",
    "Junjie He",
]


@pytest.mark.parametrize("written", MODEL_SPELLINGS)
def test_the_guard_redacts_a_hidden_name_however_the_model_writes_it(
    store: Store, written: str
) -> None:
    build(store)
    with store.db.read() as s:
        ra = load_actor(s, "ra")
        text = guard_reply(s, ra, TODAY, Reply(f"赵敏说她朋友{written}想开户。")).text
        typed = guard_reply(s, ra, TODAY, Reply(f"赵敏说她朋友{written}想开户。"), asked=HIDDEN)
    assert text == "赵敏说她朋友***想开户。"
    assert typed.text == f"赵敏说她朋友{written}想开户。"  # the asker named them: as typed


def test_a_colleagues_note_naming_a_hidden_customer_is_starred(store: Store) -> None:
    build(store)
    with store.db.write() as s:  # the branch head writes about 何俊杰, whom ra cannot see
        record_note(
            s,
            staff_id="head1",
            customer_id="cA",
            content="她介绍了何俊杰，明天回访",
            occurred_at=NOW,
            channel="console",
            source_message_id=None,
            next_followup_on=None,
        )
    card = Assistant(store, NOW).say("ra", "/c 赵敏").text
    assert "她介绍了***，明天回访" in card and HIDDEN not in card
