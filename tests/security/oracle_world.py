"""Two relationship managers in the same position, for membership-oracle probes.

林一 (ra) and 林一 (rb) each own one customer 赵敏 with the same data. 何俊杰 and 郑俊峰 are
customers of another branch, hidden from both; 何俊峰 is nobody. Whatever ra sees when naming
a hidden customer, rb must see byte for byte when naming nobody (the name aside).
"""

from __future__ import annotations

import re

from crm_store.models import Staff
from crm_store.store import Store
from tests.world import build_world, customer

HIDDEN = "何俊杰"
# (as ra types the hidden customer's name, as rb types a name nobody has)
SPELLINGS = [
    ("何俊杰", "何俊峰"),
    ("何 俊 杰", "何 俊 峰"),
    ("何\u200b俊杰", "何\u200b俊峰"),
    ("何俊傑", "何俊峯"),
    ("He Junjie", "He Junfeng"),
    ("HEJUNJIE", "HEJUNFENG"),
]
PLACEHOLDER = "〈名〉"
_NOTE_ID = re.compile(r"N[0-9a-f]{24}")


def build(store: Store) -> None:
    """The shared test bank plus the two twins, their customers and the hidden customers."""
    build_world(store)
    with store.db.write() as s:
        for sid in ("ra", "rb"):
            s.add(Staff(id=sid, name="林一", role="rm", branch_id="B3", team_id="T2", active=True))
        s.flush()
        for cid, owner in (("cA", "ra"), ("cB", "rb")):
            s.add(customer(store.cipher, cid, "赵敏", owner, "B3", "vip", "13911112222", None))
        s.add(customer(store.cipher, "c90", HIDDEN, "rm9", "B9", "vip", "13922223333", None))
        s.add(customer(store.cipher, "c91", "郑俊峰", "rm9", "B9", "vip", "13933334444", None))


def same_shape(text: str, name: str) -> str:
    """A reply with the probed name and note ids taken out, to compare the twins' replies."""
    return (
        _NOTE_ID.sub("N…", text.replace(name, PLACEHOLDER)).replace("cA", "c?").replace("cB", "c?")
    )
