"""Retrieval quality over the demo bank: recall@k of `NoteIndex.search` on Chinese questions.

    python -m bench.eval_retrieval [--today 2026-11-28] [--k 5] [--limit N]
    python -m bench.eval_retrieval --write-questions      # regenerate bench/eval_questions.jsonl

Builds the demo bank (`crm_store.demo`, seed 7, a fixed `--today`) in a temp BANKBOT_HOME:
`init_store` on SQLite with a generated key, every demo CSV imported, then `reindex` into an
embedded Chroma with the bundled e5 model (~2,000 notes: a minute or more on 2 cores). Each
question of `bench/eval_questions.jsonl` is searched within its scope: the one customer of a
single-customer question, or every customer the asking staff member may see
(`visible_customer_ids`) for an open question. recall@k of a question is
(relevant notes in the top k) / min(k, relevant notes); the figures are means over questions.

The question file is generated here, from the demo data, by `--write-questions`. Each demo
note is `opening：body`, its body filled from one template of one topic of
`crm_store.demo_words.TOPICS`; the topic is recovered by matching the body against those
templates (exactly one must match), so a note is relevant to a question by construction: it
belongs to the question's customer (or to a customer visible to its staff member) and to its
topic. Questions are written from several paraphrase templates per topic, not from note text.
Single-customer questions are asked only of customers with more than k notes, so the top k is
a real choice. Open questions keep every note of the topic in scope as relevant (any of them
answers "which customers ..."); the min(k, n) denominator keeps the figure in [0, 1].

Prints figures only (no assertions); warns if the question file no longer matches the data.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
import statistics
import tempfile
import time
from collections import defaultdict
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from crm_store import demo_words as W
from crm_store.demo import DEMO_KINDS, write_demo_files
from crm_store.importer import import_file
from crm_store.permissions import load_actor, visible_customer_ids
from crm_store.settings import Settings
from crm_store.store import Store, init_store
from retrieval.config import IndexSettings
from retrieval.connect import open_index
from retrieval.embeddings import E5Embeddings
from retrieval.sync import reindex

SEED = 7
DEFAULT_TODAY = date(2026, 11, 28)
QUESTIONS_FILE = Path(__file__).with_name("eval_questions.jsonl")
TZ = timezone(timedelta(hours=8))
SINGLE_PER_TOPIC = 10  # single-customer questions per topic
MIN_CUSTOMER_NOTES = 6  # > k: the customer's own notes do not all fit in the top 5
OPEN_STAFF = ("S001", "S002", "S003", "S004", "S005", "S006", "S008", "S009")  # RMs, leads
OPEN_PER_TOPIC = 3

# Paraphrases per topic; {name} is the customer's name. Written to fit every template of the
# topic (e.g. "手机银行" notes are complaints, complaints escalated, or problems solved).
SINGLE_TEMPLATES: dict[str, tuple[str, ...]] = {
    "cd_renewal": (
        "{name}最近关于大额存单说了什么？",
        "{name}的存单到期后打算怎么处理？",
        "{name}有没有提过存单续存的事？",
    ),
    "fund": (
        "{name}对基金定投有兴趣吗？",
        "{name}关于基金聊过什么？",
        "和{name}沟通基金投资的记录",
    ),
    "wm_redeem": (
        "{name}是不是想赎回理财？",
        "{name}关于理财产品赎回说了什么？",
        "{name}要把理财取出来吗？",
    ),
    "pension": (
        "{name}的养老规划聊过什么？",
        "{name}对个人养老金账户有兴趣吗？",
        "{name}退休后的资金怎么安排？",
    ),
    "education": (
        "{name}的孩子教育金准备得怎么样？",
        "{name}关于子女上学的资金规划说过什么？",
        "{name}给孩子存教育费用的打算",
    ),
    "mortgage": (
        "{name}想提前还房贷吗？",
        "{name}关于住房贷款提前还款问过什么？",
        "{name}的房贷还款计划聊过吗？",
    ),
    "mobile": (
        "{name}对手机银行有什么不满？",
        "{name}在手机银行上遇到过什么问题？",
        "{name}有没有投诉过我们的APP？",
    ),
    "insurance": (
        "{name}的保险配置情况怎么样？",
        "{name}问过保险方面的问题吗？",
        "和{name}聊过家庭保障吗？",
    ),
    "fx": (
        "{name}关于外汇说了什么？",
        "{name}有没有问过美元和汇率？",
        "{name}的购汇结汇需求",
    ),
    "birthday": (
        "给{name}送过生日祝福吗？",
        "{name}过生日时我们联系过吗？",
        "{name}生日那天的沟通记录",
    ),
}
OPEN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "cd_renewal": (
        "哪些客户的大额存单要续存？",
        "谁在关心存单到期和利率？",
        "存单到期的客户有哪些",
    ),
    "fund": ("最近谁对基金感兴趣？", "哪些客户在做基金定投？", "有哪些客户问过基金产品"),
    "wm_redeem": ("哪些客户想赎回理财？", "谁打算把理财产品取出来？", "谁问过理财赎回到账"),
    "pension": ("哪些客户在做养老规划？", "谁想开个人养老金账户？", "关心退休养老的客户有哪些"),
    "education": ("哪些客户在准备子女教育金？", "谁在为孩子上学存钱？", "有孩子要读书的客户"),
    "mortgage": ("哪些客户想提前还房贷？", "谁咨询过房贷提前还款？", "关心房贷利率的客户"),
    "mobile": ("哪些客户抱怨过手机银行？", "谁在手机银行上遇到过问题？", "投诉APP的客户有哪些"),
    "insurance": ("哪些客户聊过保险配置？", "谁问过保险的事？", "需要补充保障的客户"),
    "fx": ("哪些客户有外汇需求？", "谁在关心美元汇率？", "要购汇或结汇的客户"),
    "birthday": ("最近给哪些客户送过生日祝福？", "哪些客户过生日时联系过？", "生日问候过的客户"),
}


@dataclass(frozen=True)
class Note:
    """One demo interaction and the topic its body was written from."""

    note_id: str
    customer_id: str
    topic: str


@dataclass(frozen=True)
class Question:
    """One line of the question file."""

    question: str
    category: str  # "single" (one customer) or "open" (every visible customer)
    topic: str
    customer_id: str | None
    staff_id: str | None
    relevant_note_ids: list[str]


def _template_pattern(template: str) -> str:
    parts = re.split(r"\{[a-z_]+\}", template)
    return ".+?".join(re.escape(part) for part in parts)


def topic_patterns() -> dict[str, re.Pattern[str]]:
    """Topic -> a pattern matching the body of any note written from one of its templates."""
    return {
        topic: re.compile("(?:" + "|".join(_template_pattern(t) for t in templates) + ")")
        for topic, (_, templates) in W.TOPICS.items()
    }


def classify(content: str, patterns: dict[str, re.Pattern[str]]) -> str:
    """The topic a demo note was written from (the body after the opening's "：")."""
    body = content.split("：", 1)[1]
    found = [topic for topic, pattern in patterns.items() if pattern.match(body)]
    if len(found) != 1:
        raise ValueError(f"a demo note matches {len(found)} topics, not 1: {content}")
    return found[0]


def demo_settings(home: Path) -> Settings:
    """A SQLite store in `home` with a generated key; nothing read from `.env`."""
    return Settings(_env_file=None, BANKBOT_HOME=home, DATABASE_URL="")  # type: ignore[call-arg]


def build_bank(home: Path, today: date) -> tuple[Store, dict[str, Path]]:
    """The demo bank imported into a fresh store under `home`; (store, demo CSV paths)."""
    store, _ = init_store(demo_settings(home))
    paths = write_demo_files(home / "demo", today=today, seed=SEED)
    now = datetime.combine(today, datetime.min.time(), TZ).replace(hour=8)
    for kind in DEMO_KINDS:
        import_file(store, kind, paths[kind], now=now)
    return store, paths


def read_demo(paths: dict[str, Path]) -> tuple[list[Note], dict[str, str]]:
    """(every interaction with its topic, customer id -> name) from the demo CSVs."""
    patterns = topic_patterns()
    with paths["customers"].open(encoding="utf-8", newline="") as f:
        names = {row["customer_id"]: row["name"] for row in csv.DictReader(f)}
    with paths["interactions"].open(encoding="utf-8", newline="") as f:
        notes = [
            Note(row["interaction_id"], row["customer_id"], classify(row["content"], patterns))
            for row in csv.DictReader(f)
        ]
    return notes, names


def staff_scopes(store: Store, staff_ids: tuple[str, ...], today: date) -> dict[str, list[str]]:
    """Staff id -> the sorted ids of the customers they may see on `today`."""
    with store.db.read() as session:
        return {
            staff_id: sorted(visible_customer_ids(session, load_actor(session, staff_id), today))
            for staff_id in staff_ids
        }


def make_questions(
    notes: list[Note], names: dict[str, str], scopes: dict[str, list[str]], k: int
) -> list[Question]:
    """The question set, deterministic for the same demo data."""
    rng = random.Random(SEED)
    by_customer: dict[str, list[Note]] = defaultdict(list)
    for note in notes:
        by_customer[note.customer_id].append(note)
    questions: list[Question] = []
    for topic, templates in SINGLE_TEMPLATES.items():
        pairs = sorted(
            customer_id
            for customer_id, own in by_customer.items()
            if len(own) >= max(MIN_CUSTOMER_NOTES, k + 1) and any(n.topic == topic for n in own)
        )
        for i, customer_id in enumerate(rng.sample(pairs, min(SINGLE_PER_TOPIC, len(pairs)))):
            relevant = [n.note_id for n in by_customer[customer_id] if n.topic == topic]
            text = templates[i % len(templates)].format(name=names[customer_id])
            questions.append(Question(text, "single", topic, customer_id, None, sorted(relevant)))
    for t, (topic, templates) in enumerate(OPEN_TEMPLATES.items()):
        for i, template in enumerate(templates[:OPEN_PER_TOPIC]):
            staff_id = OPEN_STAFF[(t * OPEN_PER_TOPIC + i) % len(OPEN_STAFF)]
            scope = set(scopes[staff_id])
            relevant = [n.note_id for n in notes if n.topic == topic and n.customer_id in scope]
            if relevant:
                questions.append(Question(template, "open", topic, None, staff_id, relevant))
    return questions


def write_questions(path: Path, questions: list[Question]) -> None:
    """One JSON object per line, in generation order."""
    lines = [json.dumps(asdict(q), ensure_ascii=False) for q in questions]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def load_questions(path: Path) -> list[Question]:
    """The question file as written by `write_questions`."""
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [Question(**row) for row in rows]


def recall_at(found: list[str], relevant: list[str], k: int) -> float:
    """Relevant notes in the top k over min(k, number of relevant notes)."""
    wanted = set(relevant)
    return sum(1 for note_id in found[:k] if note_id in wanted) / min(k, len(wanted))


def evaluate(
    store: Store, home: Path, questions: list[Question], scopes: dict[str, list[str]], k: int
) -> None:
    """Index the bank, run every question in its scope, print the figures."""
    config = IndexSettings(  # type: ignore[call-arg]
        _env_file=None, CHROMA_URL="", EMBEDDINGS_BASE_URL="", EMBEDDINGS_MODEL=""
    )
    index = open_index(store.settings, config=config, embeddings=E5Embeddings())
    try:
        start = time.perf_counter()
        indexed = reindex(store, index, progress=False)
        seconds = time.perf_counter() - start
        print(f"indexed {indexed} notes in {seconds:.1f} s ({indexed / seconds:.0f} notes/s)")
        index.search("预热", customer_ids=[questions[0].customer_id or "C00001"], k=k)
        by_category: dict[str, list[float]] = defaultdict(list)
        by_topic: dict[str, list[float]] = defaultdict(list)
        timings: list[float] = []
        for q in questions:
            scope = [q.customer_id] if q.customer_id else scopes[q.staff_id or ""]
            start = time.perf_counter()
            hits = index.search(q.question, customer_ids=scope, k=k)
            timings.append((time.perf_counter() - start) * 1000)
            recall = recall_at([h.note_id for h in hits], q.relevant_note_ids, k)
            by_category[q.category].append(recall)
            by_topic[q.topic].append(recall)
    finally:
        index.close()
    overall = statistics.fmean(r for values in by_category.values() for r in values)
    print(f"questions: {len(questions)}")
    print(f"recall@{k}: {overall:.3f}")
    for name, values in sorted(by_category.items()):
        print(f"  {name:<12} recall@{k} {statistics.fmean(values):.3f}  ({len(values)} questions)")
    for name, values in by_topic.items():
        print(f"  {name:<12} recall@{k} {statistics.fmean(values):.3f}  ({len(values)} questions)")
    p50 = statistics.median(timings)
    print(f"time per query: mean {statistics.fmean(timings):.1f} ms, p50 {p50:.1f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--today", type=date.fromisoformat, default=DEFAULT_TODAY)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None, help="only the first N questions")
    parser.add_argument("--questions", type=Path, default=QUESTIONS_FILE)
    parser.add_argument(
        "--write-questions", action="store_true", help="regenerate the question file and stop"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bankbot-eval-") as tmp:
        home = Path(tmp)
        store, paths = build_bank(home, args.today)
        try:
            notes, names = read_demo(paths)
            scopes = staff_scopes(store, OPEN_STAFF, args.today)
            generated = make_questions(notes, names, scopes, args.k)
            if args.write_questions:
                write_questions(args.questions, generated)
                print(f"wrote {len(generated)} questions to {args.questions}")
                return
            questions = load_questions(args.questions)
            if questions != generated:
                print(f"warning: {args.questions} differs from the demo data for --today")
                print(f"  {args.today} and --k {args.k}: rerun with --write-questions")
            evaluate(store, home, questions[: args.limit], scopes, args.k)
        finally:
            store.close()


if __name__ == "__main__":
    main()
