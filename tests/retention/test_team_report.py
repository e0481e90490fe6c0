"""Team reports: exactly the manager's scope, names only in drill-downs, Monday's digest."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from crm_store.models import Reminder
from crm_store.store import Store
from scheduler.service import plan_day
from tests.assistant import Assistant
from tests.retention.helpers import add_note, add_retention_followup
from tests.scheduler.helpers import Clock, add_followup, at, make_timer
from tests.world import build_world

SHANGHAI = ZoneInfo("Asia/Shanghai")
MONDAY = date(2026, 11, 30)
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=SHANGHAI)


@pytest.fixture
def world(store: Store) -> Store:
    build_world(store)
    add_note(store, "w1", "c1", 5)  # rm1, last week (11-23 .. 11-29 is 5 days before 11-28)
    add_note(store, "w2", "c4", 4)
    add_note(store, "w3", "c3", 3)  # rm2
    add_note(store, "p1", "c4", 12)  # rm1, the week before
    add_followup(store, "c4", "rm1", date(2026, 11, 20), "逾期的跟进")
    add_retention_followup(store, "c8", "open")  # rm2's VIP: quiet
    return store


def test_team_lead_sees_each_rm_of_the_team_worst_first(world: Store) -> None:
    said = Assistant(world, NOW).say("lead1", "团队周报")
    assert said.event("team_report_shown")["rms"] == 3  # rm1, rm2 and the leaver; never rm3
    text = said.text
    assert "T1周报（11月23日—11月29日）" in text
    assert "李娜" in text and "周杰" in text and "陈静" not in text
    # The leaver's silent customer (120万 at risk) puts them first, with the full bar.
    assert text.index("钱进 ▇▇▇▇▇ 风险120万") < text.index("李娜 ▁▁▁▁▁ 风险0元")
    assert "合计：记录3条（较上周+2）" in text and "未完成2，逾期2" in text
    assert "张伟" not in text and "王芳" not in text  # no customer names outside drill-downs


def test_rm_gets_own_figures_only(world: Store) -> None:
    text = Assistant(world, NOW).say("rm1", "/team").text
    assert "李娜周报" in text and "周杰" not in text
    assert "合计：记录2条（较上周+1）" in text


def test_branch_head_sees_teams_and_drills_down_within_scope(world: Store) -> None:
    bot = Assistant(world, NOW)
    branch = bot.say("head2", "团队周报").text
    assert "分行周报" in branch and "T1 " in branch and "T2 " in branch
    assert "李娜" not in branch and "韩梅梅" not in branch
    drill = bot.say("head2", "团队周报 T1").text
    assert "李娜" in drill and "风险客户：韩梅梅(120万)" in drill
    outside = bot.say("head9", "团队周报 T1")  # another branch: nobody of T1 in scope
    assert outside.event("team_report_shown")["rms"] == 0
    assert "韩梅梅" not in outside.text and "李娜" not in outside.text


def test_compliance_gets_the_audit_summary(world: Store) -> None:
    bot = Assistant(world, NOW - timedelta(days=3))  # last week: requests to count
    bot.say("rm1", "查一下张伟")
    bot.say("rm1", "查一下李雷")  # not found
    bot.say("stranger", "你好")
    said = Assistant(world, NOW).say("comp", "团队周报")
    assert said.event("audit_summary_shown")["staff"] == 1
    assert "李娜 ▇▇▇▇▇ 1" in said.text and "未知发送者1次" in said.text


def test_admin_gets_no_report(world: Store) -> None:
    said = Assistant(world, NOW).say("admin", "团队周报")
    assert said.types() == ["refused"] or "refused" in said.types()


def test_monday_digest_carries_the_report_exactly_once(world: Store) -> None:
    clock = Clock(at(MONDAY, 8, 30))
    timer, channel = make_timer(world, clock)
    timer.morning()
    timer.morning()  # a second run sends nothing more
    (lead,) = channel.texts("lead1")
    assert "T1周报（11月23日—11月29日）" in lead and "张伟" not in lead.split("周报")[1]
    (comp,) = channel.texts("comp")
    assert "合规审计周报" in comp
    assert channel.texts("rm1") and "周报" not in channel.texts("rm1")[0]
    plan_day(world, MONDAY, now=at(MONDAY, 9))
    with world.db.read() as s:
        rows = s.execute(
            select(Reminder.recipient_staff_id, Reminder.status).where(
                Reminder.kind == "team_report"
            )
        ).all()
    assert sorted(rows) == sorted(
        [(sid, "sent") for sid in ("lead1", "head2", "head1", "head9", "comp")]
    )


@pytest.mark.parametrize(
    "text",
    [
        "团队报告",
        "看看团队这周的情况",
        "我们组表现怎么样",
        "团队数据",
        # A team member named with their work: not a customer near miss for the name.
        "李娜这周跟进了几个客户",
        "周杰最近业绩怎么样",
        # Which RM is first or last at something: the report's rows answer it.
        "哪个客户经理逾期最多",
        "团队里谁的客户最多",
    ],
)
def test_the_report_in_everyday_words(world: Store, text: str) -> None:
    said = Assistant(world, NOW).say("lead1", text)
    assert said.event("team_report_shown")["rms"] == 3


def test_a_teams_list_question_stays_a_list(world: Store) -> None:
    said = Assistant(world, NOW).say("lead1", "团队里下周谁有存款到期")
    assert "team_report_shown" not in said.types()
    assert said.event("list_shown")["filter"]["kind"] == "maturities"


def test_a_staff_name_outside_the_askers_scope_is_not_found_as_before(world: Store) -> None:
    """An RM's report holds only their own row: another RM's name is a name no visible
    customer has, as before."""
    said = Assistant(world, NOW).say("rm3", "李娜这周跟进了几个客户")
    assert "team_report_shown" not in said.types()
    assert said.text.startswith("没有找到")


def test_a_note_naming_a_staff_member_is_not_a_report_question(world: Store) -> None:
    said = Assistant(world, NOW).say("rm1", "刚联系了周杰，下周回访")
    assert "team_report_shown" not in said.types()


@pytest.mark.parametrize("text", ["审计报告", "本周有哪些拒绝访问", "上周导出了几次"])
def test_compliance_asks_for_the_audit_summary_in_its_own_words(world: Store, text: str) -> None:
    said = Assistant(world, NOW).say("comp", text)
    assert said.event("audit_summary_shown")


def test_compliance_asks_for_the_audit_of_the_days_it_names(world: Store) -> None:
    """Monday 30 November: a refusal today is in today's summary, not in last week's."""
    bot = Assistant(world, NOW)
    assert bot.say("lead1", "给张伟打标签 高净值").event("refused")["reason"] == "role"
    today = bot.say("comp", "今天有多少人被拒绝访问")
    assert today.event("audit_summary_shown")["from"] == "2026-11-30"
    assert today.text.startswith("📊 合规审计（今天）") and "拒绝1次" in today.text
    week = bot.say("comp", "审计报告")  # no period: last full week
    assert "from" not in week.event("audit_summary_shown") and "拒绝0次" in week.text
