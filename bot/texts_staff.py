"""Texts for staff, supervisors and admins (Simplified Chinese, HTML parse mode)."""

from __future__ import annotations

STAFF_COMMANDS: list[tuple[str, str]] = [
    ("mine", "我的待办工单"),
    ("ticket", "查看工单：/ticket 工单号"),
    ("accept", "接单：/accept 工单号"),
    ("note", "处理进展：/note 工单号 内容"),
    ("resolve", "办结：/resolve 工单号 处理结果"),
    ("help", "使用帮助"),
]
ADMIN_COMMANDS: list[tuple[str, str]] = [("invite", "邀请工作人员：/invite 姓名 班组 [角色]")]
REPORT_COMMANDS: list[tuple[str, str]] = [
    ("stats", "本月统计：/stats [年-月]"),
    ("report", "月度报告：/report [年-月]"),
]

ROLE_LABELS = {"staff": "处理人员", "supervisor": "主管", "manager": "经理", "admin": "管理员"}

BTN_ACCEPT = "✅ 接单"
BTN_TRANSFER = "🔀 转派"
BTN_CATEGORY = "🏷 改分类"
BTN_RESOLVE = "✔️ 办结"
BTN_AUTO = "🤖 自动分配"
BTN_BACK = "↩️ 取消"

WELCOME = (
    "欢迎，{name}！您已绑定为<b>{team}{role}</b>。\n"
    "新工单会推送到这里，点按钮即可接单、转派、改分类、办结。\n"
    "常用命令：/mine 我的待办，/ticket 工单号 查看，/note 工单号 内容 填写进展，/resolve 工单号 结果 办结。"
)
INVITE_CREATED = "已为 {name}（{team}{role}）生成一次性邀请链接，{days}天内有效：\n{link}"
INVITE_USAGE = "用法：/invite 姓名 班组 [角色]\n班组：{teams}\n角色：staff（默认）、supervisor、manager、admin"
ADMIN_ONLY = "只有管理员可以使用这个命令。"
STAFF_HELP = (
    "<b>工作人员帮助</b>\n"
    "/mine 我的待办工单（按期限排序）\n"
    "/ticket 工单号 —— 查看工单及操作按钮\n"
    "/accept 工单号 —— 接单\n"
    "/note 工单号 内容 —— 填写处理进展（会转告住户）\n"
    "/resolve 工单号 处理结果 —— 办结（结果会发给住户）\n"
    "/stats [年-月] —— 统计（主管看本班组，经理看全部）\n"
    "/report [年-月] —— 月度投诉分析报告（表格和图表）"
)

PING_HEADER = {
    "assign": "🔔 <b>新工单派给您</b>",
    "transfer": "🔀 <b>工单转派给您</b>",
    "supervisor": "👀 <b>{why}工单，请关注</b>",
    "queue": "⚠️ <b>工单暂无人可派，请分派</b>",
}
CARD = (
    "{header}\n"
    "工单号：<code>{number}</code>\n"
    "分类：{category} · {kind} · <b>{severity}</b>\n"
    "<i>{reason}</i>\n"
    "状态：{status}{assignee}\n"
    "响应期限：{respond_by}　办结期限：{resolve_by}\n"
    "位置：{location}\n"
    "描述：{description}\n"
    "联系人：{contact}"
    "{photos}"
)

MINE_EMPTY = "您目前没有待办工单 👍"
MINE_HEADER = "📋 <b>我的待办</b>（{count}件，按办结期限排序）"
MINE_LINE = "{index}. <code>{number}</code> · {status} · {severity}\n　期限 {resolve_by} · {snippet}"

ACCEPTED_STAFF = "已接单 {number}。住户联系方式：{contact}"
ACCEPTED_RESIDENT = "👷 您的投诉 {number} 已由<b>{team}</b>受理，处理人：{name}。处理进展会在这里通知您。"
NOTE_SAVED = "已记录 {number} 的处理进展，并已转告住户。"
NOTE_RESIDENT = "📝 工单 {number} 处理进展：\n{note}"
RESOLVE_ASK = "请输入工单 {number} 的处理结果（会发送给住户），或发送 /cancel 放弃。"
RESOLVED_STAFF = "已办结 {number}，处理结果已发送给住户。"
RESOLVED_RESIDENT = (
    "✅ 您的投诉 {number} 已处理完毕。\n处理结果：{result}\n"
    "如问题仍未解决，稍后回访时请点「问题未解决」，或发送 /new 重新反映。"
)
TRANSFER_PICK_TEAM = "把 {number} 转派给哪个班组？"
TRANSFER_PICK_PERSON = "转派 {number} 给{team}的谁？（括号内为在办工单数）"
TRANSFERRED = "已将 {number} 转派给 {team}{who}。"
TRANSFERRED_AWAY = "工单 {number} 已被 {by} 转派给 {team}{who}，您无需再处理。"
CATEGORY_PICK = "工单 {number} 当前分类：{category}。请选择正确的分类："
CATEGORY_CHANGED = "已将 {number} 的分类改为「{category}」，已记录用于改进自动分类。"
CATEGORY_MOVED = "已将 {number} 的分类改为「{category}」，并转给负责的{team}{who}。"
CATEGORY_SAME = "分类没有变化。"
CANCELLED_ACTION = "已取消。"
TICKET_USAGE = "请在命令后加上工单号，例如：/{command} TS20261125-0001"
TICKET_NOT_FOUND = "没有找到工单 {number}，或您无权查看。"
NOTE_USAGE = "用法：/note 工单号 进展内容"
RESOLVE_USAGE = "用法：/resolve 工单号 处理结果"

RESIDENT_INFO_STAFF = "➕ 住户补充了工单 {number} 的信息：\n{note}"
RESIDENT_INFO_SAVED = "已把补充内容转给处理人员。"
RESIDENT_INFO_QUEUED = "已记录补充内容，派单后处理人员会看到。"
RESIDENT_INFO_ASK = "请输入要补充的内容（文字），或发送 /cancel 放弃。"
RESIDENT_INFO_USAGE = "用法：/add 工单号 补充内容，或在 /status 工单详情下点「补充信息」。"
BTN_ADD_INFO = "➕ 补充信息"

UNREACHABLE_SUPERVISOR = "⚠️ 无法给工作人员 {name} 发送消息（可能已屏蔽机器人），已暂停给其派单。{extra}"
REROUTED = "工单 {number} 已改派给 {name}。"
NO_ONE_TO_ROUTE = "⚠️ 工单 {number}（{team}）暂无可派人员，请主管尽快分派。"

BTN_SENSITIVE = "🔕 不便回访"
BTN_SENSITIVE_OFF = "🔔 取消不便回访"
BTN_ON_SPOT = "👍 现场解决，住户已确认满意"
SENSITIVE_ON = "已将 {number} 标记为不便回访，办结后不会回访住户。"
SENSITIVE_OFF = "已取消 {number} 的不便回访标记。"
ON_SPOT_MARKED = "已记录：现场解决且住户已确认满意（不再回访）。请输入处理结果。"
REVIEW_SUPERVISOR = "📝 工单 {number} 回访评分 {rating}，请复核。{comment}"
REOPENED_SUPERVISOR = "🔁 <b>工单 {number} 住户不满意，已重新打开</b>\n评价：{rating}{comment}\n处理人：{assignee}"
REOPENED_ASSIGNEE = "🔁 工单 {number} 住户回访不满意（{rating}），已重新打开，请再次处理。"
COMMENT_SUPERVISOR = "💬 工单 {number} 住户回访意见：{comment}"

MAJOR_ALERT = "🚨 <b>重大投诉</b>（{reason}）\n{lines}"
MAJOR_LINE = "· <code>{number}</code> {category} · {location} · {status}\n　{snippet}"
RESPONSE_OVERDUE = "⏰ <b>超时预警</b>：工单 <code>{number}</code>（{severity}）已超过响应期限 {deadline} 仍未接单。处理人：{assignee}"
RESPONSE_OVERDUE_MANAGER = "⏰ <b>超时升级</b>：工单 <code>{number}</code>（{severity}）超过响应期限两倍时间仍未接单（期限 {deadline}）。班组：{team}"
RESOLVE_REMINDER = "⏳ 提醒：工单 <code>{number}</code> 的办结期限是 {deadline}，请抓紧处理。"
RESOLVE_OVERDUE = "❗ 工单 <code>{number}</code>（{severity}）已超过办结期限 {deadline}，处理人：{assignee}。"
PROGRESS_NUDGE = "📌 工单 <code>{number}</code> 已超过{period}没有处理进展，请用 /note {number} 内容 告诉住户最新情况。"
PROGRESS_RESIDENT = "⏳ 您的工单 {number} 仍在处理中，处理人员正在跟进，有进展会第一时间通知您。"
BTN_PAUSE = "⏸ 等待住户"
BTN_RESUME = "▶️ 恢复计时"
PAUSED = "已暂停 {number} 的计时（等待住户）。住户回复后自动恢复。"
RESUMED = "已恢复 {number} 的计时，新的办结期限：{deadline}。"
BTN_SEVERITY = "⚖️ 改级别"
SEVERITY_PICK = "工单 {number} 当前级别：{severity}。请选择："
SEVERITY_CHANGED = "已将 {number} 改为「{severity}」，新的响应期限 {respond_by}，办结期限 {resolve_by}。"
STATS_ONLY = "只有主管、经理和管理员可以查看统计和报告。"
MONTH_USAGE = "月份格式为 年-月，例如：/{command} 2026-10"
REPORT_WORKING = "正在生成 {month} 月度投诉分析报告，请稍候…"
REPORT_CAPTION = "📊 {month} 月度投诉分析报告（顾客投诉分类统计表及图表）"
REPORT_MONTHLY = "📊 上月（{month}）月度投诉分析报告已生成，请查收。"
