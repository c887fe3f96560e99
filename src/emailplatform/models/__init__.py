"""Every table. Import models from here."""

from emailplatform.models.audit import AuditEntry
from emailplatform.models.base import Base, utcnow
from emailplatform.models.campaign import (
    UNSENT_MESSAGE_STATUSES,
    WAITING_MESSAGE_STATUSES,
    Batch,
    BatchStatus,
    DomainMessageCount,
    Message,
    MessageCount,
    MessageStatus,
    RowError,
    Transaction,
    TransactionKind,
    TransactionStatus,
)
from emailplatform.models.domain import SendingDomain
from emailplatform.models.event import Event
from emailplatform.models.file import File
from emailplatform.models.idempotency import IdempotencyKey
from emailplatform.models.job import Job, JobState
from emailplatform.models.retention import RetentionPurge, TenantErasures
from emailplatform.models.suppression import Suppression
from emailplatform.models.template import Template, TemplateVersion
from emailplatform.models.tenant import ApiKey, Tenant
from emailplatform.models.throttle import ThrottleCounter, ThrottleHold
from emailplatform.models.user import Role, User
from emailplatform.models.webhook import (
    CallbackSecret,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)

__all__ = [
    "UNSENT_MESSAGE_STATUSES",
    "WAITING_MESSAGE_STATUSES",
    "ApiKey",
    "AuditEntry",
    "Base",
    "Batch",
    "BatchStatus",
    "DomainMessageCount",
    "Event",
    "File",
    "IdempotencyKey",
    "Job",
    "JobState",
    "Message",
    "MessageCount",
    "MessageStatus",
    "RetentionPurge",
    "RowError",
    "SendingDomain",
    "Role",
    "Template",
    "Suppression",
    "TemplateVersion",
    "Tenant",
    "TenantErasures",
    "ThrottleCounter",
    "ThrottleHold",
    "Transaction",
    "TransactionKind",
    "TransactionStatus",
    "User",
    "utcnow",
    "CallbackSecret",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
]
