"""User-facing texts (Simplified Chinese). HTML parse mode: anything typed by users is escaped."""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

from services.domain import Severity, Status
from services.intake import mask_phone

COMMANDS: list[tuple[str, str]] = [
    ("start", "开始 / 主菜单"),
    ("new", "投诉报事"),
    ("my", "我的投诉"),
    ("status", "查询工单进度：/status 工单号"),
    ("add", "补充工单信息：/add 工单号 内容"),
    ("cancel", "取消当前填写"),
    ("help", "使用帮助"),
]

BTN_NEW = "📝 投诉报事"
BTN_MY = "📋 我的投诉"
BTN_HELP = "❓ 帮助"
BTN_SHARE_PHONE = "📱 分享我的手机号"
BTN_ANONYMOUS = "🙈 匿名反映"
BTN_CANCEL = "❌ 取消"
BTN_SUBMIT = "✅ 确认提交"
BTN_EDIT_DESCRIPTION = "✏️ 改描述"
BTN_EDIT_LOCATION = "✏️ 改位置"
BTN_EDIT_CONTACT = "✏️ 改联系方式"

GREETING = (
    "您好，{name}！这里是物业客服中心 👋\n"
    "小区里遇到问题（报修、卫生、安全、收费、服务态度……），直接在这里告诉我们，"
    "我们会登记工单、派给负责的同事，并及时告诉您处理进度。\n\n"
    "请选择："
)

HELP = (
    "<b>怎么反映问题</b>\n"
    "1. 发送 /new 或直接发一段文字描述问题（可附照片）；\n"
    "2. 告诉我们位置（楼栋/单元/房号，或小区内的地点）；\n"
    "3. 留下联系方式（分享手机号或输入电话），也可以匿名；\n"
    "4. 确认后提交，立即得到工单号和预计处理时间。\n\n"
    "<b>命令</b>\n"
    "/new 投诉报事\n"
    "/my 我的投诉\n"
    "/status 工单号 —— 查询进度，如 /status TS20261125-0001\n"
    "/add 工单号 内容 —— 给未办结的工单补充信息\n"
    "/cancel 取消当前填写（不会保存）\n"
    "/help 显示本帮助\n\n"
    "紧急情况（燃气泄漏、火情、有人被困电梯）请同时拨打物业24小时值班电话。"
)

ASK_DESCRIPTION = (
    "📝 请描述您遇到的问题（可附照片）。\n"
    "例如：3栋1单元电梯坏了两天，一直没人修。\n"
    "随时发送 /cancel 可取消。"
)
ASK_LOCATION = (
    "📍 问题发生在哪里？\n"
    "请写明楼栋/单元/房号，或小区内的具体地点，例如：5栋2单元1302、地下车库B区、东门岗亭。"
)
BTN_LAST_LOCATION = "📍 {location}"
ASK_CONTACT = (
    "📞 请留下联系方式，方便我们联系您和事后回访：\n"
    "· 点击下方「{share}」；\n"
    "· 或直接输入电话，可加称呼，如：张先生 13812345678；\n"
    "· 也可以选择「{anonymous}」（匿名将无法回访）。"
).format(share=BTN_SHARE_PHONE, anonymous=BTN_ANONYMOUS)

PHOTO_ADDED = "📷 已收到照片（共{count}张）。"
PHOTO_NEEDS_TEXT = "📷 已收到照片（共{count}张）。请再用文字简单描述一下问题。"
PHOTOS_LIMIT = "最多可附{limit}张照片，多出的照片没有保存。"

ONLY_TEXT_AND_PHOTOS = "这一步只能接收文字（可附照片）。请用文字描述问题；暂不支持语音、贴纸和文件。"
LOCATION_TEXT_ONLY = "请用文字告诉我们位置，例如：5栋2单元1302、东门岗亭。"
CONTACT_EXPECTED = (
    "请点击下方「{share}」，或输入电话号码（如 13812345678），或选择「{anonymous}」。"
).format(share=BTN_SHARE_PHONE, anonymous=BTN_ANONYMOUS)
CONTACT_NOT_OWN = (
    "这是别人的名片。请点击下方「{share}」分享您本人的手机号，或直接输入可以联系到您的电话。"
).format(share=BTN_SHARE_PHONE)
CONTACT_FOREIGN = "目前只支持中国大陆手机号或座机。请直接输入可以联系到您的电话，或选择匿名反映。"
CONTACT_SAVED = "☎️ 联系方式：{contact}"
CONTACT_ANONYMOUS = "🙈 已选择匿名反映（将无法回访）。"
USE_BUTTONS = "请点击上面摘要下方的按钮「确认提交」或修改；如需放弃请发送 /cancel。"

SUMMARY = (
    "📋 <b>请确认您的投诉信息</b>\n"
    "问题描述：{description}\n"
    "位置：{location}\n"
    "联系方式：{contact}\n"
    "{photos}"
    "自动分类：{category} · {kind} · {severity}\n"
    "<i>{reason}</i>\n\n"
    "信息无误请点「确认提交」，需要修改请点对应按钮。"
)

SUBMITTED = (
    "✅ <b>提交成功！</b>\n"
    "工单号：<code>{number}</code>\n"
    "分类：{category}（{severity}）\n"
    "{allowance}\n"
    "{anonymous}"
    "查询进度：/status {number}　全部工单：/my"
)
SUBMITTED_ANONYMOUS = "您选择了匿名反映，处理完成后不会回访。\n"
ALREADY_SUBMITTED = "这条投诉已经提交过了，工单号：{number}"

CANCELLED = "已取消，本次填写的内容没有保存。需要时发送 /new 重新开始。"
NOTHING_TO_CANCEL = "当前没有正在填写的内容。需要反映问题请发送 /new。"
RESTARTED = "已放弃之前未提交的填写，重新开始。"
STALE_BUTTON = "这个按钮已失效，请以最新的消息为准。"
CONTINUE_HINT = "（您还有一条投诉没有填完，{step}，或发送 /cancel 取消。）"
STEP_HINTS = {
    "description": "请继续描述问题",
    "location": "请继续告诉我们位置",
    "contact": "请继续留下联系方式",
    "confirm": "请在摘要下方确认提交",
}

UNKNOWN_COMMAND = (
    "没有这个命令：{command}\n"
    "可用命令：/new 投诉报事，/my 我的投诉，/status 查询进度，/cancel 取消，/help 帮助。"
)
IDLE_NON_TEXT = "您好！如需反映问题，请直接用文字描述（可附照片），或发送 /new 开始。"
PRIVATE_ONLY = "请私聊我来反映问题哦。"
INTERNAL_ERROR = "抱歉，系统出了点问题，请稍后再试。您已填写的内容不会丢失。"

MY_EMPTY = "您还没有提交过投诉。发送 /new 开始反映问题。"
MY_HEADER = "📋 <b>我的投诉</b>（共{total}件{shown}）"
MY_LINE = "{index}. <code>{number}</code> · {category} · <b>{status}</b>\n　{snippet}"
MY_FOOTER = "点下方按钮查看详情，或发送 /status 工单号。"
STATUS_USAGE = "请在命令后加上工单号，例如：/status TS20261125-0001"
STATUS_BAD_FORMAT = "「{text}」不是有效的工单号。工单号格式为 TS + 日期 + 序号，例如 TS20261125-0001。"
STATUS_NOT_FOUND = (
    "没有找到工单 {number}。只能查询您本人提交的工单，请核对工单号，或发送 /my 查看您的全部工单。"
)
STATUS_CARD = (
    "🔎 <b>工单 {number}</b>\n"
    "状态：<b>{status}</b>\n"
    "分类：{category} · {kind} · {severity}\n"
    "提交时间：{created}\n"
    "位置：{location}\n"
    "描述：{description}\n"
    "{contact}"
    "<b>进度</b>\n{history}"
)

# What a resident sees of the log: label, and whether the note is shown. Others stay internal.
RESIDENT_EVENTS = {
    "created": ("提交并受理", False),
    "assign": ("已派单", True),
    "queue": ("已转交负责班组", False),
    "accept": ("处理人员已接单", False),
    "note": ("处理进展", True),
    "info": ("您补充了信息", True),
    "merged": ("您再次反映了此问题（已合并）", False),
    "resolve": ("已处理完毕", True),
    "status": (None, False),
    "callback_answered": ("回访评价", True),
}


def contact_line(*, anonymous: bool, name: str | None, phone: str | None, masked: bool = False) -> str:
    if anonymous:
        return "匿名（无法回访）"
    shown = mask_phone(phone) if masked else (phone or "—")
    return f"{escape(name)} {shown}" if name else shown


def local_time(moment: datetime, tz: ZoneInfo) -> str:
    return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def shorten(text: str, length: int) -> str:
    """Collapse whitespace and cut to ``length`` characters with an ellipsis (plain text)."""
    flat = " ".join(text.split())
    return flat if len(flat) <= length else flat[: length - 1] + "…"


def snippet(text: str, length: int = 24) -> str:
    return escape(shorten(text, length))


def severity_label(code: str) -> str:
    return Severity(code).label


def status_label(code: str) -> str:
    return Status(code).label

CALLBACK_PROMPT = (
    "📞 <b>满意度回访</b> · 工单 <code>{number}</code>\n"
    "您反映的问题：{snippet}\n"
    "处理结果：{result}\n\n"
    "请为本次处理打分（5 = 非常满意），如果问题没有解决请点「问题未解决」。"
)
BTN_NOT_SOLVED = "问题未解决"
RATING_THANKS = {
    "closed": "感谢您的评价！工单 {number} 已关闭。",
    "review": "感谢您的评价！我们会请主管复核工单 {number}，继续改进。",
    "reopened": "抱歉没能让您满意。工单 {number} 已重新打开，主管会跟进处理。",
}
CALLBACK_ANSWERED = "✅ 已评价：{label}"
COMMENT_INVITE = "如有意见或建议，可以直接回复一句话（可跳过）。如需反映新的问题，请发送 /new。"
BTN_SKIP_COMMENT = "跳过"
COMMENT_THANKS = "已收到您的意见，谢谢！"
COMMENT_SKIPPED = "好的，谢谢！"
CALLBACK_LATE = "这次回访已经结束了，感谢您的反馈！如果问题仍未解决，请发送 /new 重新反映。"

MERGED = (
    "您反映的问题与您之前的工单 <code>{number}</code> 是同一件事，已合并到该工单并转告处理人员，"
    "不再重复登记。查询进度：/status {number}"
)
