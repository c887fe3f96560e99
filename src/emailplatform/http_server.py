"""uvicorn's HTTP protocol (httptools) with a deadline on a request's headers.

uvicorn times out only idle keep-alive connections, and resets that clock on every byte: a client that sends its
headers a byte at a time would hold a connection for ever (slowloris). Here a connection whose request headers
are not all in within `header_timeout_seconds` of its first byte (or of the connection) is closed. Bodies are not
bounded in time: a large upload over a slow link may take long, and the body limit bounds its size.
"""

import ssl
from asyncio import TimerHandle, Transport

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from emailplatform.config import Settings, get_settings


class HeaderDeadlineProtocol(HttpToolsProtocol):
    _header_deadline: TimerHandle | None = None
    _tls: dict | None = None  # the ASGI TLS extension of a connection with a client certificate

    @property
    def header_timeout_seconds(self) -> float:
        return get_settings().http_header_timeout_seconds  # from the environment, in every API process alike

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._tls = _client_certificate(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._tls:
            self.scope["extensions"] = {"tls": self._tls}
        if self._header_deadline is None:  # the next request on a kept-alive connection
            self._arm_header_deadline()

    def on_headers_complete(self) -> None:
        self._disarm_header_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_deadline()
        super().connection_lost(exc)

    def _arm_header_deadline(self) -> None:
        self._header_deadline = self.loop.call_later(self.header_timeout_seconds, self._headers_too_slow)

    def _disarm_header_deadline(self) -> None:
        if self._header_deadline is not None:
            self._header_deadline.cancel()
            self._header_deadline = None

    def _headers_too_slow(self) -> None:
        self._header_deadline = None
        if not self.transport.is_closing():
            self.transport.close()


def _client_certificate(transport: Transport) -> dict | None:
    """The verified client certificate of a TLS connection, as the ASGI TLS extension has it (PEM)."""
    ssl_object = transport.get_extra_info("ssl_object")
    der = ssl_object.getpeercert(binary_form=True) if ssl_object else None
    if not der:
        return None
    return {
        "server_cert": None,
        "client_cert_chain": [ssl.DER_cert_to_PEM_cert(der)],
        "client_cert_name": None,
        "client_cert_error": None,
        "tls_version": None,
        "cipher_suite": None,
    }


def uvicorn_options(settings: Settings) -> dict:
    """What `serve` gives uvicorn beside the app: the header deadline, the keep-alive timeout and TLS (with client
    certificates asked for, or required, when a client CA is set)."""
    options = {"http": f"{__name__}:HeaderDeadlineProtocol", "timeout_keep_alive": settings.http_keep_alive_seconds}
    if settings.tls_cert_file:
        options |= {"ssl_certfile": settings.tls_cert_file, "ssl_keyfile": settings.tls_key_file or None}
    if settings.tls_cert_file and settings.tls_client_ca_file:
        required = settings.tls_client_certificates == "required"
        cert_reqs = ssl.CERT_REQUIRED if required else ssl.CERT_OPTIONAL
        options |= {"ssl_ca_certs": settings.tls_client_ca_file, "ssl_cert_reqs": cert_reqs}
    return options
