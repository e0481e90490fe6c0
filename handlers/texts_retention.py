"""Sentences of churn warnings, team reports and tags (merged into `handlers.texts`)."""

from __future__ import annotations

ZH: dict[str, str] = {
    "reminder_kind_retention": "流失预警",
    "digest_retention_head": "【流失预警】{total}位客户有流失风险，金额最大的在前：",
    "digest_retention_more": "……另有{more}位，回复“哪些客户有流失风险”查看全部。",
    "digest_retention_hint": "回复“跟进 序号”为预警客户建立挽留跟进。",
    "retention_line": "⚠️ {name}（风险金额{amount}）：{reasons}。建议：{action}",
    "retention_maturity": "{product}{amount}{when}到期，{quiet}",
    "retention_aum_drop": "资产从{old}降至{new}（-{pct}%，对比{when}）",
    "retention_silence": "{segment}，{quiet}（应每{cadence}天联系）",
    "retention_complaint": "{when}的记录提到“{matched}”，之后未跟进",
    "retention_matured": "{product}{amount}已于{when}到期，未见续作",
    "retention_quiet_days": "近{days}天无沟通记录",
    "retention_never": "从无沟通记录",
    "retention_action_maturity": "到期前致电，沟通续存或新产品",
    "retention_action_aum_drop": "了解资金去向，安排一次资产检视",
    "retention_action_silence": "尽快电话问候，了解近况",
    "retention_action_complaint": "尽快回访安抚，处理客户诉求",
    "retention_action_matured": "联系客户，了解到期资金去向并推荐续作",
    "retention_list_head": "有流失风险的客户共{total}位（金额最大的在前）：",
    "retention_list_head_owner": "{name}名下有流失风险的客户共{total}位（金额最大的在前）：",
    "retention_list_more": "……另有{more}位未列出。",
    "retention_list_hint": "回复“跟进 序号”建立挽留跟进；“张伟为什么有风险”看详情。",
    "retention_none": "目前没有流失风险的客户。",
    "retention_why": "{name}的流失风险（风险金额{amount}）：\n{reasons}\n建议：{action}",
    "retention_why_none": "{name}目前没有流失预警。",
    "retention_card": "⚠️ 流失预警：{reasons}",
    "retention_followup_summary": "挽留：{reasons}",
    "retention_followup_opened": "已为{name}建立挽留跟进，{due}前完成。完成前该预警不再提醒。",
    "retention_followup_exists": "{name}已有进行中的挽留跟进。",
    "retention_not_warning": "第{n}项不是流失预警，可回复“完成 {n}”或“推迟 {n} 3天”。",
    "tag_rm_only": "只有客户经理可以给自己的客户打标签。",
    "tag_bad": "标签要简短（最多{max}个字），例如“给张伟打标签 高净值”。",
    "tag_not_own": "没有找到您名下的这位客户；只能给自己的客户打标签。",
    "tag_ambiguous": "您名下有{count}位同名客户，请在客户卡片里确认后再打标签。",
    "tag_added": "已给{name}加上标签“{tag}”。",
    "tag_added_already": "{name}已经有标签“{tag}”。",
    "tag_removed": "已去掉{name}的标签“{tag}”。",
    "tag_removed_already": "{name}没有标签“{tag}”。",
    "team_title": "📊 {who}周报（{start}—{end}）",
    "team_total": "合计",
    "team_total_line": "合计：记录{notes}条（较上周{notes_change}）\n"
    "完成跟进{done}（较上周{done_change}）\n"
    "未完成{open}，逾期{overdue}；VIP超期未联系{vip}\n"
    "30天内到期{maturing}笔，未跟进{unfollowed}\n"
    "流失预警{warnings}位，风险{at_risk}",
    "team_line": "{name} {bar} 风险{at_risk}｜预警{warnings}\n"
    "　逾期{overdue}｜VIP未联系{vip}｜记录{notes}（{notes_change}）\n"
    "　完成{done}｜未完成{open}｜到期未跟进{unfollowed}/已跟进{followed}",
    "team_names": "　风险客户：{names}",
    "team_branch": "分行",
    "team_drill_hint": "回复“团队周报 团队编号”查看该团队每位客户经理。",
    "team_unknown": "没有团队{team}，或不在您的范围内。",
    "team_role": "团队周报只提供给客户经理、团队主管、分行负责人和合规。",
    "team_audit": "合规审计",
    "team_audit_line": "拒绝{refusals}次｜未知发送者{unknown}次\n"
    "调用大模型{llm}次｜导出{exports}次",
}

EN: dict[str, str] = {
    "reminder_kind_retention": "churn warning",
    "digest_retention_head": "[Churn warnings] {total} customers at risk, largest first:",
    "digest_retention_more": "...and {more} more; ask 'who is at risk' for all.",
    "digest_retention_hint": "Reply 'follow N' to open a retention follow-up on a warning.",
    "retention_line": "⚠️ {name} (at risk {amount}): {reasons}. Suggested: {action}",
    "retention_maturity": "{product} {amount} matures {when}, {quiet}",
    "retention_aum_drop": "AUM fell from {old} to {new} (-{pct}%, since {when})",
    "retention_silence": "{segment} customer: {quiet} (cadence {cadence} days)",
    "retention_complaint": "the note of {when} mentions '{matched}', no follow-up since",
    "retention_matured": "{product} {amount} matured {when}, not renewed",
    "retention_quiet_days": "no contact for {days} days",
    "retention_never": "never contacted",
    "retention_action_maturity": "call before maturity about renewal or new products",
    "retention_action_aum_drop": "ask where the money went; offer a portfolio review",
    "retention_action_silence": "call soon to catch up",
    "retention_action_complaint": "call back soon and resolve the complaint",
    "retention_action_matured": "ask about the matured funds and offer a renewal",
    "retention_list_head": "{total} customers at risk of leaving (largest first):",
    "retention_list_head_owner": "{total} of {name}'s customers at risk (largest first):",
    "retention_list_more": "...and {more} more not listed.",
    "retention_list_hint": "Reply 'follow N' to open a retention follow-up.",
    "retention_none": "No customer is at risk of leaving right now.",
    "retention_why": "Why {name} is at risk (at risk {amount}):\n{reasons}\nSuggested: {action}",
    "retention_why_none": "{name} has no churn warning right now.",
    "retention_card": "⚠️ Churn warning: {reasons}",
    "retention_followup_summary": "Retention: {reasons}",
    "retention_followup_opened": "Retention follow-up opened for {name}, due {due}. "
    "The warning stays quiet meanwhile.",
    "retention_followup_exists": "{name} already has an open retention follow-up.",
    "retention_not_warning": "Item {n} is not a churn warning; reply 'done {n}' or 'snooze {n}'.",
    "tag_rm_only": "Only an RM can tag their own customers.",
    "tag_bad": "Keep a tag short: at most {max} characters, no ';'.",
    "tag_not_own": "No such customer of yours; you can tag your own customers only.",
    "tag_ambiguous": "{count} of your customers have that name; check the card first.",
    "tag_added": "Tag '{tag}' added to {name}.",
    "tag_added_already": "{name} already has tag '{tag}'.",
    "tag_removed": "Tag '{tag}' removed from {name}.",
    "tag_removed_already": "{name} has no tag '{tag}'.",
    "team_title": "📊 {who} weekly report ({start} to {end})",
    "team_total": "Total",
    "team_total_line": "Total: {notes} notes ({notes_change} vs last week), {done} done "
    "({done_change})\n{open} open, {overdue} overdue; {vip} VIPs past cadence\n"
    "{maturing} maturing in 30 days, {unfollowed} without follow-up\n"
    "{warnings} churn warnings, {at_risk} at risk",
    "team_line": "{name} {bar} at risk {at_risk} | warnings {warnings}\n"
    "  overdue {overdue} | VIP silent {vip} | notes {notes} ({notes_change})\n"
    "  done {done} | open {open} | maturing unfollowed {unfollowed}/followed {followed}",
    "team_names": "  at risk: {names}",
    "team_branch": "Branch",
    "team_drill_hint": "Reply 'team T01' for one team's RMs.",
    "team_unknown": "No team {team} in your scope.",
    "team_role": "Team reports are for RMs, team leads, branch heads and compliance.",
    "team_audit": "Compliance audit",
    "team_audit_line": "{refusals} refusals | {unknown} unknown senders | {llm} LLM calls | "
    "{exports} exports",
}
