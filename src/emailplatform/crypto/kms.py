"""Master keys held by AWS KMS: each data key is wrapped by KMS under the configured KMS key (Encrypt) and
unwrapped by KMS (Decrypt), so the master key never leaves KMS. Data keys that master keys of the settings
wrapped before still unwrap with those, and `emailplatform keys rotate` moves them under KMS."""

import hashlib
from collections import OrderedDict

from botocore.exceptions import BotoCoreError, ClientError

from emailplatform.config import Settings
from emailplatform.crypto.envelope import Unreadable
from emailplatform.crypto.master_keys import MasterKeys
from emailplatform.errors import Unavailable

CONTEXT = {"purpose": "emailplatform data key"}  # KMS refuses to decrypt a blob without the same context
UNWRAPPED_KEPT = 4096  # data keys kept unwrapped in memory: a file read twice asks KMS once


class KmsUnavailable(Unavailable):
    """KMS did not answer, or refused the configured key: a request that needed it answers 503, a job is retried."""

    def __init__(self, message: str):
        super().__init__(message, field="kms", headers={"Retry-After": "5"})


def kms_key_tag(arn: str) -> bytes:
    """The 8-byte key id in an encrypted header that names this KMS key."""
    return hashlib.sha256(b"emailplatform kms key" + arn.encode()).digest()[:8]


class KmsKeys:
    def __init__(self, client, key_id: str, local: MasterKeys | None = None):
        self.client, self.key_id, self.local = client, key_id, local
        try:
            self.arn = client.describe_key(KeyId=key_id)["KeyMetadata"]["Arn"]
        except (ClientError, BotoCoreError) as exc:
            raise KmsUnavailable(f"the KMS key {key_id} cannot be used: {exc}") from None
        self.current = kms_key_tag(self.arn)
        self._unwrapped: OrderedDict[bytes, bytes] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings, local: MasterKeys | None) -> "KmsKeys":
        import boto3  # heavy to import: only where KMS is used

        client = boto3.client("kms", region_name=settings.kms_region, endpoint_url=settings.kms_endpoint_url or None)
        return cls(client, settings.kms_key_id, local)

    def wrap(self, data_key: bytes) -> tuple[bytes, bytes]:
        try:
            answer = self.client.encrypt(KeyId=self.arn, Plaintext=data_key, EncryptionContext=CONTEXT)
        except (ClientError, BotoCoreError) as exc:
            raise KmsUnavailable(f"KMS did not wrap a data key: {exc}") from None
        return self.current, answer["CiphertextBlob"]

    def unwrap(self, wrapped_by: bytes, wrapped: bytes) -> bytes:
        if self.local is not None and wrapped_by in self.local.keys:
            return self.local.unwrap(wrapped_by, wrapped)
        if wrapped_by != self.current:
            raise Unreadable(f"the master key {wrapped_by.hex()} that encrypted this is not configured")
        if (kept := self._unwrapped.get(wrapped)) is not None:
            self._unwrapped.move_to_end(wrapped)
            return kept
        data_key = self._decrypt(wrapped)
        self._unwrapped[wrapped] = data_key
        if len(self._unwrapped) > UNWRAPPED_KEPT:
            self._unwrapped.popitem(last=False)
        return data_key

    def _decrypt(self, wrapped: bytes) -> bytes:
        try:
            answer = self.client.decrypt(CiphertextBlob=wrapped, KeyId=self.arn, EncryptionContext=CONTEXT)
        except ClientError as exc:
            if exc.response["Error"]["Code"] in ("InvalidCiphertextException", "IncorrectKeyException"):
                raise Unreadable("KMS does not unwrap the data key: the header was altered") from None
            raise KmsUnavailable(f"KMS did not unwrap a data key: {exc}") from None
        except BotoCoreError as exc:
            raise KmsUnavailable(f"KMS did not unwrap a data key: {exc}") from None
        return answer["Plaintext"]

    def is_current(self, wrapped_by: bytes) -> bool:
        return wrapped_by == self.current

    def opens(self, wrapped_by: bytes) -> bool:
        return wrapped_by == self.current or (self.local is not None and self.local.opens(wrapped_by))
