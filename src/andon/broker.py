"""The demo's own MQTT broker, bound to loopback, in a process of its own.

A ``mosquitto`` binary on PATH is preferred (tens of thousands of messages per second);
otherwise the pure-Python amqtt broker runs as ``python -m andon.broker`` in a child process,
because sharing an event loop with publisher and subscriber caps it near 1,700 msg/s
(DESIGN.md section 9). Either way the broker dies with its parent's ``stop``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Literal

from andon.errors import BrokerError

__all__ = ["EmbeddedBroker", "free_port", "wait_for_port"]

_logger = logging.getLogger(__name__)
BrokerKind = Literal["auto", "mosquitto", "amqtt"]

_MOSQUITTO_CONF = """\
listener {port} 127.0.0.1
allow_anonymous true
persistence false
max_inflight_messages 1000
max_queued_messages {max_queued}
log_type error
log_dest stderr
"""


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_port(host: str, port: int, timeout_s: float) -> bool:
    """True once ``host:port`` accepts TCP connections, False after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class EmbeddedBroker:
    """Starts a loopback MQTT broker on ``port`` (a free one by default)."""

    host = "127.0.0.1"

    def __init__(
        self, port: int | None = None, kind: BrokerKind = "auto", *, max_queued: int = 200_000
    ) -> None:
        self.port = port or free_port()
        self.max_queued = max_queued  # per client, while it is away or slow (mosquitto only)
        self.kind: BrokerKind = kind
        if kind == "auto":
            self.kind = "mosquitto" if shutil.which("mosquitto") else "amqtt"
        self._process: subprocess.Popen[bytes] | None = None
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def __enter__(self) -> EmbeddedBroker:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self, timeout_s: float = 15.0) -> None:
        """Start the broker process and wait until it accepts connections."""
        command = self._mosquitto_command() if self.kind == "mosquitto" else self._amqtt_command()
        self._process = subprocess.Popen(command, stdin=subprocess.DEVNULL)
        if not wait_for_port(self.host, self.port, timeout_s):
            self.stop()
            raise BrokerError(f"{self.kind} did not start listening on port {self.port}")
        _logger.info("%s broker listening on %s", self.kind, self.url)

    def stop(self) -> None:
        """Terminate the broker process."""
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def _mosquitto_command(self) -> list[str]:
        binary = shutil.which("mosquitto")
        if binary is None:
            raise BrokerError("mosquitto is not on PATH")
        self._tmp = tempfile.TemporaryDirectory(prefix="andon-mosquitto-")
        conf = Path(self._tmp.name) / "mosquitto.conf"
        text = _MOSQUITTO_CONF.format(port=self.port, max_queued=self.max_queued)
        conf.write_text(text, encoding="utf-8")
        return [binary, "-c", str(conf)]

    def _amqtt_command(self) -> list[str]:
        return [sys.executable, "-m", "andon.broker", "--port", str(self.port)]


async def _serve_amqtt(port: int) -> None:
    from amqtt.broker import Broker

    config = {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {"amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}},
    }
    broker = Broker(config)
    await broker.start()
    try:
        await asyncio.Event().wait()
    finally:
        await broker.shutdown()


def main(argv: list[str] | None = None) -> None:
    """Run the amqtt broker until terminated (the child process of :class:`EmbeddedBroker`)."""
    parser = argparse.ArgumentParser(prog="python -m andon.broker", description=__doc__)
    parser.add_argument("--port", type=int, default=1883, help="loopback port to listen on")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # The parent's readiness probe opens and closes a bare TCP connection; amqtt logs that
    # as an error. Real failures still reach the parent as a broker that does not answer.
    logging.getLogger("amqtt").setLevel(logging.CRITICAL)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve_amqtt(args.port))


if __name__ == "__main__":
    main()
