"""A real SMTP server for tests and the benchmark: aiosmtpd in a thread of this process,
keeping what it receives, and told to refuse what a test wants refused."""

from __future__ import annotations

import socket
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """An aiosmtpd handler: stores each message; ``rcpt_answers`` and ``data_answers`` are
    replies to give instead of accepting (one each, in order), e.g. "451 4.3.0 Try later"."""

    def __init__(self, *, keep: bool = True):
        self.keep = keep
        self.received: list[tuple[list[str], bytes]] = []
        self.count = 0
        self.rcpt_answers: list[str] = []
        self.data_answers: list[str] = []
        self._lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.rcpt_answers:
            return self.rcpt_answers.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.data_answers:
            return self.data_answers.pop(0)
        with self._lock:
            self.count += 1
            if self.keep:
                self.received.append((list(envelope.rcpt_tos), envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(raw, policy=policy.default) for _, raw in self.received]  # type: ignore[misc]


class SmtpServer:
    def __init__(self, sink: Sink, port: int | None = None):
        self.sink = sink
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.controller = Controller(sink, hostname=self.host, port=self.port)

    def __enter__(self) -> SmtpServer:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()
