"""uvicorn's HTTP protocol (httptools) with a deadline on a request's headers.

uvicorn times out only idle keep-alive connections, and resets that clock on every byte: a client that sends its
headers a byte at a time would hold a connection for ever (slowloris). Here a connection whose request headers
are not all in within `header_timeout_seconds` of its first byte (or of the connection) is closed. Bodies are not
bounded in time: a large upload over a slow link may take long, and the body limit bounds its size.
"""

from asyncio import TimerHandle, Transport

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from emailplatform.config import Settings, get_settings


class HeaderDeadlineProtocol(HttpToolsProtocol):
    _header_deadline: TimerHandle | None = None

    @property
    def header_timeout_seconds(self) -> float:
        return get_settings().http_header_timeout_seconds  # from the environment, in every API process alike

    def connection_made(self, transport: Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
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


def uvicorn_options(settings: Settings) -> dict:
    """What `serve` gives uvicorn beside the app: the header deadline and the keep-alive timeout."""
    return {"http": f"{__name__}:HeaderDeadlineProtocol", "timeout_keep_alive": settings.http_keep_alive_seconds}
