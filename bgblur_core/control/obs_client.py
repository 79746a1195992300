"""A connection to OBS over obs-websocket v5, through obs-websocket-py's public API only.

obs-websocket-py's `connect()` has no connect timeout and reports a refused password only as an
"empty response"; so `connect()` first does the v5 handshake itself (Hello, Identify) on a short-lived
websocket-client connection with a timeout. OBS answers a wrong password by closing with the
protocol's close code 4009 (AuthenticationFailed): that code, not an error text, raises AuthFailed.
Then the real client connects with `obsws.connect()`.
"""
from __future__ import annotations

import base64
import hashlib
import json
import struct

import websocket
from obswebsocket import exceptions as obsexc
from obswebsocket import obsws

from ..log import log
from ..settings import Settings
from .messages import nesting_exceeds
from ..stages import StageError

CALL_TIMEOUT = 5.0
AUTHENTICATION_FAILED = 4009  # obs-websocket v5 WebSocketCloseCode::AuthenticationFailed
AUTH_FAILED = ("obs-websocket: authentication failed — check the password in the script settings "
               "/ BGBLUR_OBS_PASSWORD")


class AuthFailed(Exception):
    pass


MAX_DEPTH = 200  # deeper messages are dropped before obs-websocket-py's json.loads recurses into them


class _DepthChecked:
    """The websocket as obs-websocket-py's receive thread reads it, minus any message nested too deep
    to decode: json.loads would raise RecursionError there (a 1,500-deep CustomEvent) and end the thread."""

    def __init__(self, ws):
        self.ws = ws

    def recv(self):
        message = self.ws.recv()
        if message and nesting_exceeds(message, MAX_DEPTH):
            log(f"obs-websocket: ignored a message nested deeper than {MAX_DEPTH} levels")
            return ""  # the receive loop skips empty messages
        return message

    def __getattr__(self, name):
        return getattr(self.ws, name)


class Client(obsws):
    """obsws whose receive thread survives over-deep messages, plus `alive()` and a quiet `close()`.
    The core and the real-OBS test harness both use it."""

    @property
    def ws(self):
        return self.checked_ws

    @ws.setter
    def ws(self, ws) -> None:
        """obsws.connect() sets a new websocket, then starts the receive thread on it: wrapped from its first
        message on (the first message a client gets can be the deep one)."""
        self.checked_ws = None if ws is None else _DepthChecked(ws)

    def alive(self) -> bool:
        return bool(self.ws and self.ws.connected and self.thread_recv and self.thread_recv.is_alive())

    def close(self) -> None:
        try:
            self.disconnect()
        except (OSError, websocket.WebSocketException, RuntimeError):
            pass


def reason(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return text.splitlines()[0].lower()


def _auth_string(password: str, salt: str, challenge: str) -> str:
    """The v5 protocol's authentication string: base64(sha256(base64(sha256(password + salt)) + challenge))."""
    secret = base64.b64encode(hashlib.sha256((password + salt).encode()).digest())
    return base64.b64encode(hashlib.sha256(secret + challenge.encode()).digest()).decode()


def identify(host: str, port: int, password: str, timeout: float = CALL_TIMEOUT) -> int | None:
    """Hello/Identify on a connection of its own: None when OBS identifies us, else the close code it sent.

    Raises ConnectionFailure when nothing obs-websocket-like answers."""
    try:
        ws = websocket.create_connection(f"ws://{host}:{port}", timeout=timeout)
    except (OSError, websocket.WebSocketException) as e:
        raise obsexc.ConnectionFailure(reason(e)) from None
    try:
        hello = json.loads(ws.recv())
        auth = hello["d"].get("authentication")
        data = {"rpcVersion": 1, "eventSubscriptions": 0}
        if auth:
            data["authentication"] = _auth_string(password, auth["salt"], auth["challenge"])
        ws.send(json.dumps({"op": 1, "d": data}))
        opcode, frame = ws.recv_data_frame(True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return struct.unpack("!H", frame.data[:2])[0] if len(frame.data) >= 2 else 1005
        return None
    except (OSError, websocket.WebSocketException, ValueError, KeyError, TypeError) as e:
        raise obsexc.ConnectionFailure(reason(e)) from None
    finally:
        ws.close(timeout=1)


def connect(settings: Settings) -> Client:
    """A connected client for settings' obs_host/obs_port/obs_password; raises AuthFailed or ConnectionFailure."""
    host, port, password = settings.obs_host, settings.obs_port, settings.obs_password
    code = identify(host, port, password)
    if code == AUTHENTICATION_FAILED:
        raise AuthFailed()
    if code is not None:
        raise obsexc.ConnectionFailure(f"obs-websocket closed the connection (code {code})")
    client = Client(host, port, password, legacy=False, timeout=CALL_TIMEOUT)
    try:
        client.connect()
    except (OSError, websocket.WebSocketException, ValueError) as e:
        raise obsexc.ConnectionFailure(reason(e)) from None
    return client


def call(client: obsws, request) -> dict:
    """Call and return the response data; raise StageError with OBS's comment on failure."""
    r = client.call(request)
    if not r.status:
        raise StageError(f"obs-websocket: {request.name} failed: {r.datain.get('comment', r.datain) if r.datain else 'no reason given'}")
    return r.datain


def connect_or_fail(settings: Settings) -> Client:
    """connect(), with both failures as one-line StageErrors (for commands, not the retrying adapter)."""
    try:
        return connect(settings)
    except AuthFailed:
        raise StageError(AUTH_FAILED) from None
    except obsexc.ConnectionFailure as e:
        raise StageError(f"obs-websocket: cannot connect to {settings.obs_host}:{settings.obs_port} ({e})") from None
