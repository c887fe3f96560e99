"""Amazon SES v2: each message sent raw, with the configuration set that publishes its events to our SNS
endpoint and a `message_id` tag that brings our id back in those events (`mail.tags.message_id`).

boto3 blocks, so every call runs on the transport's own thread pool: at most `smtp_connections` calls in
flight per process, the event loop never waits on the network. Answers map to results: success SENT with
the SES MessageId; a refusal of this message or sender (MessageRejected, an unverified MAIL FROM domain, a
suspended account, a request SES calls bad) FAILED with SES's code and message; everything else
(throttling, SES's own 5xx errors, a network that fails, a setup the operator must fix) RETRY.
"""

import asyncio
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from emailplatform.config import Settings
from emailplatform.events.schemas import MESSAGE_ID_TAG
from emailplatform.sending.transports.base import Handover, OutgoingMessage, SendResult, SendStatus, at_once

# Refusals of this message, its sender or the account: sending it again will not help.
REFUSED = {
    "MessageRejected",
    "MailFromDomainNotVerifiedException",
    "AccountSuspendedException",
    "BadRequestException",
    "InvalidParameterValue",
}


class SesTransport:
    def __init__(self, client, *, configuration_set: str, concurrency: int):
        self.client = client
        self.configuration_set = configuration_set
        self.executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="ses-send")

    @classmethod
    def from_settings(cls, settings: Settings) -> "SesTransport":
        config = Config(
            max_pool_connections=settings.smtp_connections,
            connect_timeout=10,
            read_timeout=settings.smtp_timeout_seconds,
            retries={"mode": "standard", "max_attempts": 2},  # a message still refused is retried by the job, later
        )
        client = boto3.session.Session().client(
            "sesv2", region_name=settings.ses_region, endpoint_url=settings.ses_endpoint_url or None, config=config
        )
        return cls(client, configuration_set=settings.ses_configuration_set, concurrency=settings.smtp_connections)

    async def send(self, message: OutgoingMessage, handover: Handover = at_once) -> SendResult:
        loop = asyncio.get_running_loop()
        await handover()
        return await loop.run_in_executor(self.executor, self._send_blocking, message)

    async def close(self) -> None:
        self.executor.shutdown(wait=False, cancel_futures=True)
        self.client.close()

    def _send_blocking(self, message: OutgoingMessage) -> SendResult:
        try:
            answer = self.client.send_email(**self._request(message))
        except ClientError as exc:
            return _refusal(exc)
        except BotoCoreError as exc:  # no connection, a timeout, no credentials
            return SendResult(SendStatus.RETRY, response=f"SES could not be reached: {exc}")
        message_id = answer["MessageId"]
        return SendResult(SendStatus.SENT, response=f"SES accepted the message as {message_id}", provider_id=message_id)

    def _request(self, message: OutgoingMessage) -> dict:
        request = {
            "FromEmailAddress": message.envelope_from,
            "Destination": {"ToAddresses": [message.recipient]},
            "Content": {"Raw": {"Data": message.raw}},
            "EmailTags": [{"Name": MESSAGE_ID_TAG, "Value": message.message_id.hex}],
        }
        if self.configuration_set:
            request["ConfigurationSetName"] = self.configuration_set
        return request


def _refusal(exc: ClientError) -> SendResult:
    error = exc.response.get("Error", {})
    code = error.get("Code", "Unknown")
    text = f"SES {code}: {error.get('Message') or exc}"
    if code in REFUSED:
        return SendResult(SendStatus.FAILED, response=text)
    # throttling, SES's own errors, and what the operator must fix (credentials, a configuration set that
    # does not exist, a sending pause): not the recipient's problem, so tried again later
    return SendResult(SendStatus.RETRY, response=text)
