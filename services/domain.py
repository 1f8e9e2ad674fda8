"""Domain vocabulary shared by every service: categories, kinds, severities, statuses.

Values stored in the database are the short ASCII codes; what people read comes from `label`.
"""

from __future__ import annotations

from enum import StrEnum


class Category(StrEnum):
    """Complaint category (投诉分类) from the SPEC; the value is the Chinese name itself."""

    SECURITY = "安全管理"
    ENGINEERING = "工程管理"
    ENVIRONMENT = "环境管理"
    GENERAL = "综合管理"
    STAFF = "服务人员"
    NEIGHBOURS = "邻里纠纷"
    DEVELOPER = "地产相关"
    OTHER = "其他"


class Kind(StrEnum):
    """What the resident wants: a complaint, an inquiry (no callback) or a suggestion."""

    COMPLAINT = "投诉"
    INQUIRY = "咨询"
    SUGGESTION = "建议"


class Severity(StrEnum):
    """Severity level (分级); drives the SLA deadlines."""

    URGENT = "urgent"
    IMPORTANT = "important"
    GENERAL = "general"

    @property
    def label(self) -> str:
        return _SEVERITY_LABELS[self]

    @property
    def numeral(self) -> str:
        return _SEVERITY_LABELS[self].split()[0]


_SEVERITY_LABELS = {
    Severity.URGENT: "Ⅰ 紧急",
    Severity.IMPORTANT: "Ⅱ 重要",
    Severity.GENERAL: "Ⅲ 一般",
}


class Flag(StrEnum):
    """Special markers found by the classifier; they change routing or severity."""

    LAWSUIT = "lawsuit"  # threatens to sue
    MEDIA = "media"  # threatens media exposure
    GROUP = "group"  # several residents complain together
    STAFF_REPORT = "staff_report"  # 员工投诉: staff reporting staff, goes to HR
    CUSTOMER_REPORT = "customer_report"  # 客户举报: bribery/embezzlement, goes to audit


class Status(StrEnum):
    """Ticket statuses from the SPEC; every change is an event in the log."""

    NEW = "new"
    ASSIGNED = "assigned"
    ACCEPTED = "accepted"
    RESOLVED = "resolved"
    CLOSED = "closed"
    REOPENED = "reopened"
    CANCELLED = "cancelled"
    INVALID = "invalid"

    @property
    def label(self) -> str:
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    Status.NEW: "已受理",
    Status.ASSIGNED: "已派单",
    Status.ACCEPTED: "处理中",
    Status.RESOLVED: "已处理待回访",
    Status.CLOSED: "已关闭",
    Status.REOPENED: "重新处理",
    Status.CANCELLED: "已撤销",
    Status.INVALID: "无效",
}
