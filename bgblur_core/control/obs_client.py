"""A connection to OBS over obs-websocket v5 (obs-websocket-py), with timeouts and a clear auth error."""
from __future__ import annotations

import websocket
from obswebsocket import exceptions as obsexc
from obswebsocket import obsws
from obswebsocket.core import RecvThread

from ..settings import Settings
from ..stages import StageError

CALL_TIMEOUT = 5.0
AUTH_FAILED = ("obs-websocket: authentication failed — check the password in the script settings "
               "/ BGBLUR_OBS_PASSWORD")


class AuthFailed(Exception):
    pass


class _Client(obsws):
    """obsws with a connect timeout; a wrong password raises AuthFailed."""

    def connect(self) -> None:
        self.ws = websocket.WebSocket()
        try:
            self.ws.connect(f"ws://{self.host}:{self.port}", timeout=CALL_TIMEOUT)
        except (OSError, websocket.WebSocketException) as e:
            raise obsexc.ConnectionFailure(reason(e)) from None
        try:
            self._auth()
        except obsexc.ConnectionFailure as e:
            self.ws.close()
            # obs-websocket closes the socket right after Identify only when authentication fails
            raise AuthFailed() if "Identify" in str(e) else e
        except (OSError, websocket.WebSocketException, ValueError) as e:
            self.ws.close()
            raise obsexc.ConnectionFailure(reason(e)) from None
        self.ws.settimeout(None)
        self.thread_recv = RecvThread(self)
        self.thread_recv.daemon = True
        self.thread_recv.start()

    def alive(self) -> bool:
        return bool(self.ws and self.ws.connected and self.thread_recv and self.thread_recv.is_alive())

    def close(self) -> None:
        if self.thread_recv is not None:
            self.thread_recv.running = False
        try:
            self.ws.close(timeout=1)
        except Exception:
            pass


def reason(e: BaseException) -> str:
    text = getattr(e, "strerror", None) or str(e) or type(e).__name__
    return text.splitlines()[0].lower()


def connect(settings: Settings) -> _Client:
    """A connected client for settings' obs_host/obs_port/obs_password; raises AuthFailed or ConnectionFailure."""
    client = _Client(settings.obs_host, settings.obs_port, settings.obs_password, legacy=False, timeout=CALL_TIMEOUT)
    client.connect()
    return client


def call(client: obsws, request) -> dict:
    """Call and return the response data; raise StageError with OBS's comment on failure."""
    r = client.call(request)
    if not r.status:
        raise StageError(f"obs-websocket: {request.name} failed: {r.datain.get('comment', r.datain) if r.datain else 'no reason given'}")
    return r.datain


def connect_or_fail(settings: Settings) -> _Client:
    """connect(), with both failures as one-line StageErrors (for commands, not the retrying adapter)."""
    try:
        return connect(settings)
    except AuthFailed:
        raise StageError(AUTH_FAILED) from None
    except obsexc.ConnectionFailure as e:
        raise StageError(f"obs-websocket: cannot connect to {settings.obs_host}:{settings.obs_port} ({e})") from None
