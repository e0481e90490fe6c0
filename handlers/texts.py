"""What people read: every user-facing sentence, Simplified Chinese first, English second."""

from __future__ import annotations

from datetime import date

from handlers import texts_understanding
from handlers.texts_retention import EN as RETENTION_EN
from handlers.texts_retention import ZH as RETENTION_ZH

_ZH: dict[str, str] = {
    "help": (
        "我可以帮您（怎么说都行，不用记命令）：\n"
        "• 查客户：“张伟最近怎么样”“张伟电话多少”“王芳的AUM”“张伟的理财哪天到期”“尾号5678”\n"
        "• 记跟进：“刚和张伟通话，他想了解大额存单，下周二回访”“帮我记一下……”\n"
        "• 设提醒：“明天提醒我给张伟打电话”\n"
        "• 看待办：“今天要做什么”，然后“完成 2”“推迟 2 3天”\n"
        "• 列表：“本月过生日的客户”“下个月到期的客户”“AUM五百万以上的”“我有多少客户”\n"
        "• 问沟通记录：“张伟上次聊了什么？”“最近谁对基金感兴趣？”\n"
        "记录或提醒后10分钟内回复“撤销”可撤回；列表较长时回复“更多”。"
    ),
    "unknown": "抱歉，我没理解。发送“帮助”查看我能做什么。",
    # Never echo the name: the guard would redact a name that exists elsewhere, and that
    # difference would tell the asker a hidden customer exists.
    "not_found": "没有找到您可查看的对应客户。请核对姓名，或用“尾号1234”按手机尾号查找。",
    "not_found_tail": "没有找到您可查看的手机尾号为{last4}的客户。",
    "who_is_it": "没看出这条记录是哪位客户的。请写上客户姓名，或用“/note 姓名 内容”。",
    "clarify": "有{count}位客户符合，请回复序号选择（不会记录任何内容，直到您选择）：",
    "clarify_note": "有{count}位客户符合，请回复序号确定这条记录属于谁：",
    "bad_choice": "请回复1到{count}之间的序号，或回复“取消”。",
    "cancelled": "好的，已取消。",
    "nothing_to_cancel": "当前没有等待您确认的操作，无需取消。",
    "nothing_pending": "当前没有需要选择的内容。",
    "unknown_sender": "您好，此账号尚未绑定员工身份，无法提供服务。请联系管理员。",
    "deactivated": "该账号已停用，无法提供服务。如有疑问请联系管理员。",
    "bind_failed": "绑定码无效或已过期，请向管理员重新申请。",
    "bound": "绑定成功，{name}您好！发送“帮助”查看我能做什么。",
    "group_chat": "为保护客户隐私，群聊中不提供客户信息，请在与我的私聊中继续。",
    "admin_no_customers": "管理员账号不通过聊天查看客户信息。",
    "read_only": "您的角色为只读，不能记录或修改跟进。",
    "error": "抱歉，处理时出现问题，本次没有保存任何内容。请稍后再试。",
    "voice_heard": "🎤 识别为：『{text}』",
    "voice_failed": "抱歉，这条语音没能识别，请直接打字发送。",
    "voice_offline": "语音记录需要配置语音识别服务，目前未开启，请直接打字发送。",
    "voice_too_long": "语音太长（最长{seconds}秒），请分段发送或直接打字。",
    "note_saved": "已记录 {who}的跟进：\n“{content}”",
    "note_followup": "下次跟进：{due}，已创建跟进任务。",
    "note_no_followup": "未识别到下次跟进日期。",
    "note_undo_hint": "10分钟内回复“撤销”可撤回。",
    "note_duplicate": "这条消息已经记录过了，没有重复保存。",
    "note_undone": "已撤销对 {name} 的记录及其跟进任务。",
    "nothing_to_undo": "没有10分钟内可撤销的记录。",
    "empty_note": "记录内容是空的，请写上沟通内容。",
    "today_title": "今天（{today}）的待办：",
    "day_title": "{day}的待办（到期跟进含逾期）：",
    "day_nothing": "{day}没有到期的跟进、生日或产品到期。",
    "today_followups": "【到期跟进】共{total}项",
    "today_overdue": "（其中逾期{overdue}项）",
    "today_birthdays": "【近{days}天生日】",
    "today_maturities": "【近{days}天到期产品】",
    "today_nothing": "今天没有到期的跟进、生日或产品到期。",
    "today_more": "……另有{more}项未列出",
    "today_hint": "回复“完成 序号”标记完成，“推迟 序号 3天”延后。",
    "no_items": "请先发送“今天要做什么”查看待办编号。",
    "bad_item": "没有第{n}项待办，请按最近一次列表的序号回复。",
    "done": "已完成：{name} — {summary}",
    "digest_title": "{name}，早上好！{today}的客户提醒：",
    "digest_late": "（系统恢复后补发，提醒比平时晚到）",
    "digest_today": "【今天】",
    "digest_coming": "【近期】",
    "digest_overdue_head": "【逾期跟进】共{total}项，最早的几项：",
    "digest_birthday": "🎂 {name} 生日：{when}",
    "digest_birthday_lunar": "🎂 {name} 生日（农历）：{when}",
    "digest_maturity": "💰 {name} {product}「{product_name}」{amount}，{when}到期",
    "digest_followup": "📞 跟进 {name}：{summary}",
    "digest_overdue": "⏰ {name}：{summary}（逾期{days}天）",
    "digest_hint": "回复“完成 序号”表示已处理，“推迟 序号 3天”稍后再提醒。",
    "reminder_acked": "已处理：{name} — {what}，同一事项不再重复提醒。",
    "reminder_kind_birthday": "生日",
    "reminder_kind_maturity": "产品到期",
    "reminder_kind_followup": "跟进",
    "already_done": "这项跟进已经完成了。",
    "snoozed": "已推迟：{name} — 改到{due}。",
    "bad_snooze": "没看懂要推迟到哪天，例如“推迟 2 3天”或“推迟 2 下周一”。",
    "snooze_range": "只能推迟到明天至{max}天后（最晚{last}），例如“推迟 2 3天”。",
    "too_long": "消息太长了（最多{max}字），请精简或分几条发送。",
    "vip_title": "您可查看的VIP客户（共{total}位，按资产排序）：",
    "vip_none": "您目前没有可查看的VIP客户。",
    "maturing_title": "{start}至{end}有产品到期的客户：",
    "maturing_none": "{start}至{end}没有您可查看的客户产品到期。",
    "no_customers": "您目前没有可查看的客户。",
    "question_off": "沟通记录检索未启用，暂时无法回答这类问题。发送“帮助”查看我能做什么。",
    "question_unavailable": "沟通记录检索暂时不可用，请稍后再试。",
    # card
    "card_head": "{name}｜{segment}｜风险等级{risk}｜资产{aum}",
    "card_contact": "手机：{phone}　证件：{id_number}　{branch}，客户经理{owner}",
    "card_tags": "标签：{tags}",
    "card_birthday": "生日：{on}（{calendar}，还有{days}天）",
    "card_birthday_today": "生日：今天（{calendar}）🎂",
    "card_maturing": "30天内到期：",
    "card_no_maturing": "30天内无到期产品。",
    "card_notes": "最近沟通：",
    "card_no_notes": "暂无沟通记录。",
    "card_followups": "待跟进：",
    "segment_vip": "VIP",
    "segment_regular": "普通客户",
    "segment_prospect": "潜在客户",
    "calendar_solar": "公历",
    "calendar_lunar": "农历",
    "none": "无",
    "unknown_value": "未知",
    # lines of the card and of lists
    "tag_separator": "、",
    "card_holding": "  • {kind}「{product}」{amount}，{due}到期",
    "card_note": "  • {date} {staff}：{content}",
    "summary_line": "{index}. {name}｜{segment}｜手机{phone}｜{branch}｜客户经理{owner}",
    "followup_line": "{prefix}{name}：{summary}（{when}）",
    "overdue_days": "逾期{days}天",
    "overdue_one_day": "逾期{days}天",
    "card_birthday_one_day": "生日：{on}（{calendar}，还有{days}天）",
    "birthday_line": "  • {name} {on}",
    "birthday_line_lunar": "  • {name} {on}（农历）",
    "maturity_line": "  • {name}：{kind}「{product}」{amount}，{due}到期",
    "vip_line": "{index}. {name}｜资产{aum}｜手机{phone}",
    # product types (holdings.product_type)
    "product_time_deposit": "定期存款",
    "product_large_cd": "大额存单",
    "product_wealth_management": "理财",
    "product_fund": "基金",
    "product_insurance": "保险",
    "product_loan": "贷款",
}


# Same keys and {placeholders} as _ZH, and no CJK characters or full-width punctuation
# (tests/handlers/test_texts.py checks both).
_EN: dict[str, str] = {
    "help": (
        "I can help you with (plain words work, no commands needed):\n"
        "- Customers: 'look up NAME', 'NAME phone', 'NAME assets', 'NAME holdings'\n"
        "- Notes: 'note: called NAME, wants a large CD, call back next Tuesday'\n"
        "- Reminders: 'remind me to call NAME tomorrow'\n"
        "- To-dos: 'what's on today', then 'done 2' or 'snooze 2 12-05'\n"
        "- Lists: 'birthdays this month', 'maturing next month', 'how many customers'\n"
        "- Notes search: 'what did we discuss with NAME last time'\n"
        "Reply 'undo' within 10 minutes to take a note or reminder back; 'more' for long lists."
    ),
    "unknown": "Sorry, I did not understand. Send 'help' to see what I can do.",
    "not_found": "No matching customer that you can see. Please check the name.",
    "not_found_tail": "No customer you can see has a mobile number ending in {last4}.",
    "who_is_it": (
        "I could not tell which customer this note is about. "
        "Please include the customer's name, or use '/note NAME TEXT'."
    ),
    "clarify": (
        "{count} customers match. Reply with a number to choose (nothing is recorded until you do):"
    ),
    "clarify_note": "{count} customers match. Reply with a number to say whose note this is:",
    "bad_choice": "Please reply with a number from 1 to {count}, or '/cancel'.",
    "cancelled": "OK, cancelled.",
    "nothing_to_cancel": "Nothing is waiting for your answer, so there is nothing to cancel.",
    "nothing_pending": "There is nothing waiting for your choice.",
    "bind_failed": "That code is invalid or has expired. Please ask your admin for a new one.",
    "bound": "Linked. Hello {name}! Send 'help' to see what I can do.",
    "unknown_sender": "This account is not linked to a staff member. Please contact your admin.",
    "deactivated": "This account has been deactivated. Please contact your admin if in doubt.",
    "group_chat": (
        "To protect customer privacy, customer information is not shared in group chats. "
        "Please continue in a private chat with me."
    ),
    "admin_no_customers": "Admin accounts do not view customer information in chat.",
    "read_only": "Your role is read-only: you cannot record or change follow-ups.",
    "error": "Sorry, something went wrong; nothing was saved. Please try again later.",
    "voice_heard": "🎤 Heard: “{text}”",
    "voice_failed": "Sorry, this voice message could not be transcribed. Please type it.",
    "voice_offline": "Voice notes need a speech-recognition service, which is not set up. "
    "Please type the note.",
    "voice_too_long": "The voice message is too long (at most {seconds} s). Please send a "
    "shorter one or type it.",
    "note_saved": 'Note saved for {who}:\n"{content}"',
    "note_followup": "Next follow-up: {due}; a follow-up task was created.",
    "note_no_followup": "No next follow-up date found.",
    "note_undo_hint": "Reply 'undo' within 10 minutes to take it back.",
    "note_duplicate": "This message was already recorded; it was not saved again.",
    "note_undone": "Undone: the note on {name} and its follow-up task.",
    "nothing_to_undo": "There is no note from the last 10 minutes to undo.",
    "empty_note": "The note is empty. Please write what was discussed.",
    "today_title": "To-do for today ({today}):",
    "day_title": "To-do for {day} (follow-ups due by then, overdue included):",
    "day_nothing": "Nothing due {day}: no follow-ups, birthdays or maturities.",
    "today_followups": "Follow-ups due: {total}",
    "today_overdue": " ({overdue} overdue)",
    "today_birthdays": "Birthdays in the next {days} days:",
    "today_maturities": "Products maturing in the next {days} days:",
    "today_nothing": "Nothing due today: no follow-ups, birthdays or maturities.",
    "today_more": "... and {more} more not shown",
    "today_hint": "Reply 'done N' to mark item N done, or 'snooze N 12-05' to move it.",
    "no_items": "Send '/today' first to see your numbered to-do list.",
    "bad_item": "There is no item {n}. Please use a number from your latest list.",
    "done": "Done: {name} — {summary}",
    "digest_title": "Good morning, {name}! Customer reminders for {today}:",
    "digest_late": "(Sent late, after the system came back.)",
    "digest_today": "[Today]",
    "digest_coming": "[Coming up]",
    "digest_overdue_head": "[Overdue follow-ups] {total} in all, oldest first:",
    "digest_birthday": "🎂 {name} birthday: {when}",
    "digest_birthday_lunar": "🎂 {name} birthday (lunar calendar): {when}",
    "digest_maturity": "💰 {name} {product} '{product_name}' {amount} matures {when}",
    "digest_followup": "📞 Follow up {name}: {summary}",
    "digest_overdue": "⏰ {name}: {summary} (overdue by {days} days)",
    "digest_hint": "Reply 'done N' when handled, or 'snooze N 12-05' to be reminded that day.",
    "reminder_acked": "Handled: {name} — {what}; it will not be reminded again.",
    "reminder_kind_birthday": "birthday",
    "reminder_kind_maturity": "maturity",
    "reminder_kind_followup": "follow-up",
    "already_done": "This follow-up is already done.",
    "snoozed": "Snoozed: {name} — moved to {due}.",
    "bad_snooze": (
        "I could not tell which day to snooze to: try 'snooze 2 12-05' (month-day), "
        "or 'snooze 2' for tomorrow."
    ),
    "snooze_range": "A snooze goes from tomorrow to {max} days ahead (at the latest {last}).",
    "too_long": "That message is too long (at most {max} characters): please shorten or split it.",
    "vip_title": "Your VIP customers ({total}, by AUM):",
    "vip_none": "You have no VIP customers you can see.",
    "maturing_title": "Customers with products maturing {start} to {end}:",
    "maturing_none": "No customer you can see has a product maturing {start} to {end}.",
    "no_customers": "You have no customers you can see.",
    "question_off": (
        "Searching the interaction notes is not enabled, so I cannot answer questions "
        "like this yet. Send 'help' to see what I can do."
    ),
    "question_unavailable": "Searching the interaction notes is unavailable; try again later.",
    # card
    "card_head": "{name} | {segment} | risk level {risk} | AUM {aum}",
    "card_contact": "Mobile: {phone}  ID: {id_number}  {branch}, RM {owner}",
    "card_tags": "Tags: {tags}",
    "card_birthday": "Birthday: {on} ({calendar}, in {days} days)",
    "card_birthday_today": "Birthday: today ({calendar}) 🎂",
    "card_maturing": "Maturing within 30 days:",
    "card_no_maturing": "Nothing maturing within 30 days.",
    "card_notes": "Recent notes:",
    "card_no_notes": "No notes yet.",
    "card_followups": "Open follow-ups:",
    "segment_vip": "VIP",
    "segment_regular": "regular",
    "segment_prospect": "prospect",
    "calendar_solar": "Gregorian",
    "calendar_lunar": "lunar",
    "none": "n/a",
    "unknown_value": "unknown",
    # lines of the card and of lists
    "tag_separator": ", ",
    "card_holding": '  • {kind} "{product}" {amount}, matures {due}',
    "card_note": "  • {date} {staff}: {content}",
    "summary_line": "{index}. {name} | {segment} | mobile {phone} | {branch} | RM {owner}",
    "followup_line": "{prefix}{name}: {summary} ({when})",
    "overdue_days": "overdue by {days} days",
    "overdue_one_day": "overdue by {days} day",
    "card_birthday_one_day": "Birthday: {on} ({calendar}, in {days} day)",
    "birthday_line": "  • {name}: {on}",
    "birthday_line_lunar": "  • {name}: {on} (lunar)",
    "maturity_line": '  • {name}: {kind} "{product}" {amount}, matures {due}',
    "vip_line": "{index}. {name} | AUM {aum} | mobile {phone}",
    # product types (holdings.product_type)
    "product_time_deposit": "time deposit",
    "product_large_cd": "large-denomination CD",
    "product_wealth_management": "wealth management product",
    "product_fund": "fund",
    "product_insurance": "insurance",
    "product_loan": "loan",
}
_ZH.update(RETENTION_ZH)
_EN.update(RETENTION_EN)

_ZH.update(texts_understanding.ZH)
_EN.update(texts_understanding.EN)

WEEKDAYS_ZH = "一二三四五六日"
WEEKDAYS_EN = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Days near today get a word: days from today -> word.
_NEAR_DAYS: dict[str, dict[int, str]] = {
    "zh": {0: "今天", 1: "明天", 2: "后天", -1: "昨天"},
    "en": {0: "today", 1: "tomorrow", 2: "in 2 days", -1: "yesterday"},
}


def t(key: str, lang: str = "zh", **values: object) -> str:
    """The sentence `key` in `lang` (falling back to Chinese), with values filled in."""
    table = _EN if lang == "en" else _ZH
    template = table.get(key) or _ZH[key]
    return template.format(**values)


def named_with_phone(name: str, phone_masked: str | None, lang: str = "zh") -> str:
    """ "张伟（132****6730）", or the name alone when no number is on file."""
    if not phone_masked:
        return name
    return f"{name} ({phone_masked})" if lang == "en" else f"{name}（{phone_masked}）"


def fixed_texts() -> list[str]:
    """Every sentence in every language, and the words for days near today: the fixed text a
    reply is built from, which the reply guard never redacts."""
    near = [word for words in _NEAR_DAYS.values() for word in words.values()]
    return [*_ZH.values(), *_EN.values(), *near]


def has_text(key: str) -> bool:
    """Whether `key` is a known sentence (for keys built from data, like product types)."""
    return key in _ZH


def day_text(day: date, today: date, lang: str = "zh") -> str:
    """A date as people say it: 12月1日（周二） or Tue 1 Dec; 今天/today for the nearest days."""
    delta = (day - today).days
    if lang == "en":
        label = _NEAR_DAYS["en"].get(delta)
        base = f"{WEEKDAYS_EN[day.weekday()]} {day.day} {MONTHS_EN[day.month - 1]}"
        if day.year != today.year:
            base = f"{base} {day.year}"
        return f"{label}, {base}" if label else base
    label = _NEAR_DAYS["zh"].get(delta)
    base = f"{day.month}月{day.day}日（周{WEEKDAYS_ZH[day.weekday()]}）"
    if day.year != today.year:
        base = f"{day.year}年{base}"
    return f"{label} {base}" if label else base


def money_text(amount: object, currency: str = "CNY", lang: str = "zh") -> str:
    """An amount as bankers read it: 万元 when large in Chinese, 'CNY 1,234,567.00' in English."""
    try:
        value = float(str(amount))
    except ValueError:
        return str(amount)
    if lang == "en":
        return f"{currency} {value:,.2f}"
    suffix = "" if currency == "CNY" else f" {currency}"
    if abs(value) >= 10_000:
        return f"{value / 10_000:,.2f}万{suffix}"
    return f"{value:,.2f}元{suffix}"
