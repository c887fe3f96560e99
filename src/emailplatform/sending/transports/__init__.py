from emailplatform.config import Settings
from emailplatform.sending.transports.base import OutgoingMessage, SendResult, SendStatus, Transport
from emailplatform.storage import Storage

__all__ = ["OutgoingMessage", "SendResult", "SendStatus", "Transport", "create_transport"]


def create_transport(settings: Settings, storage: Storage) -> Transport:
    """The transport `settings.transport` names; an SMTP URL that cannot be understood raises ValueError."""
    if settings.transport == "smtp":
        from emailplatform.sending.transports.smtp import SmtpTransport

        return SmtpTransport.from_settings(settings)
    if settings.transport == "ses":
        from emailplatform.sending.transports.ses import SesTransport

        return SesTransport.from_settings(settings)
    from emailplatform.sending.transports.capture import CaptureTransport

    return CaptureTransport(storage)
