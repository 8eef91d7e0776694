"""``StepSocket``: the server's WebSocket step protocol, from a plain blocking socket.

One message out, one answer back, on the calling thread: the protocol's
framing comes from ``websockets``' sans-I/O ``ClientProtocol`` and the bytes
go through an ordinary socket. ``websockets``' own synchronous client reads
in a background thread and hands every message over to the caller's thread;
for a lock-step agent that hand-over is a large part of each round trip
(README, Performance).
"""

import json
import socket
from urllib.parse import quote

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHandshake, InvalidURI
from websockets.frames import Opcode
from websockets.http11 import Response
from websockets.uri import parse_uri

from .errors import ServerUnreachable, error_for


def ws_url_of(base_url, path):
    """``ws://host:port/path`` (or ``wss://``) for a server's ``http(s)://host:port``."""
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://"):] + path
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://"):] + path
    raise ValueError(f"expected an http:// or https:// server address, got {base_url!r}")


class StepSocket:
    """A connection to ``ws/envs/{id}/step/`` (or ``ws/step/``) of a gymapi server.

    ``call(message)`` sends a JSON message such as ``{"op": "step", "action": 1}``
    and returns the answer, the body the REST route gives; an error answer is
    raised as the same ``GymapiError`` the REST route's would be. ``api_key``
    is sent as the first message (``{"op": "auth"}``), not in the URL, where
    proxies would log it.
    """

    def __init__(self, base_url, path, *, api_key=None, timeout=60.0):
        self.url = ws_url_of(base_url, path)
        try:
            uri = parse_uri(self.url)
        except InvalidURI as error:
            raise ValueError(str(error)) from None
        self.timeout = timeout
        self._pending = []
        self._fragments = []
        self._ended = False  # the server's side of the connection reached its end
        try:
            self._socket = socket.create_connection((uri.host, uri.port), timeout=timeout)
        except OSError as error:
            raise ServerUnreachable(f"cannot reach a gymapi server at {base_url}: {error}") from error
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if uri.secure:
            import ssl

            self._socket = ssl.create_default_context().wrap_socket(self._socket, server_hostname=uri.host)
        self._protocol = ClientProtocol(uri, max_size=None)
        try:
            self._handshake()
            if api_key:
                self.call({"op": "auth", "key": api_key})
        except BaseException:
            self._socket.close()
            raise

    def _handshake(self):
        self._protocol.send_request(self._protocol.connect())
        self._flush()
        while True:
            self._read()
            events = self._protocol.events_received()
            if events:
                break
            if self._ended:
                raise ServerUnreachable(f"the server closed {self.url} during the handshake")
        response, self._pending = events[0], events[1:]
        error = self._protocol.handshake_exc
        if error is not None or not isinstance(response, Response):
            status = getattr(response, "status_code", None)
            if status is not None and status >= 400:
                raise error_for(status, _json_or_none(getattr(response, "body", b"")))
            raise ServerUnreachable(f"{self.url} refused the WebSocket handshake: {error}") from (
                error if isinstance(error, InvalidHandshake) else None
            )

    def call(self, message):
        """Send ``message`` (a dict) and return its answer (a dict); raise an error answer."""
        self.send_text(json.dumps(message, separators=(",", ":"), allow_nan=False))
        answer = json.loads(self.receive_text())
        status = answer.pop("status", None) if isinstance(answer, dict) else None
        if status is not None and status >= 400:
            raise error_for(status, answer)
        return answer

    def send_text(self, text):
        """Send one text message."""
        self._protocol.send_text(text.encode())
        self._flush()

    def receive_text(self):
        """The next text message (pings are answered on the way; a close ends in ``ServerUnreachable``)."""
        while True:
            while self._pending:
                frame = self._pending.pop(0)
                if frame.opcode in (Opcode.TEXT, Opcode.BINARY) or (frame.opcode is Opcode.CONT and self._fragments):
                    self._fragments.append(frame)
                    if frame.fin:
                        data = b"".join(fragment.data for fragment in self._fragments)
                        self._fragments = []
                        return data.decode()
                elif frame.opcode is Opcode.CLOSE:
                    close = self._protocol.close_rcvd
                    reason = f"code {close.code}{f': {close.reason}' if close.reason else ''}" if close else "no code"
                    raise ServerUnreachable(f"the server closed {self.url} ({reason})")
            self._read()
            self._pending = self._protocol.events_received()
            if not self._pending and self._ended:
                raise ServerUnreachable(f"the server closed {self.url}")
            self._flush()  # pongs, and the answer to a close

    def close(self):
        """Close the connection (the instance stays: ``RemoteEnv.close`` deletes it)."""
        try:
            self._protocol.send_close(1000)
            self._flush()
        except Exception:  # already closed by the server, or the socket is gone
            pass
        self._socket.close()

    def _read(self):
        try:
            data = self._socket.recv(65536)
        except socket.timeout as error:
            raise ServerUnreachable(f"{self.url} gave no answer within {self.timeout} s") from error
        except OSError as error:
            raise ServerUnreachable(f"{self.url}: {error}") from error
        if data:
            self._protocol.receive_data(data)
        else:
            self._protocol.receive_eof()
            self._ended = True

    def _flush(self):
        data = self._protocol.data_to_send()
        if data:
            try:
                self._socket.sendall(b"".join(data))
            except OSError as error:
                raise ServerUnreachable(f"{self.url}: {error}") from error


def _json_or_none(body):
    try:
        return json.loads(body)
    except (TypeError, ValueError):
        return None


def step_path(instance_id):
    """The path of an instance's step socket."""
    return f"/ws/envs/{quote(str(instance_id))}/step/"
