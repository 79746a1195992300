"""Output `obs-stream[:PORT]`: the processed video as YUV4MPEG2 over TCP on 127.0.0.1.

For users without a virtual-camera driver, and for end-to-end tests. OBS reads it live with a
Media Source (`ffmpeg_source`): is_local_file=false, input=tcp://127.0.0.1:PORT,
input_format=yuv4mpegpipe, buffering_mb=0 (see `obs_core_process.media_source_settings`).

Each connected reader gets the stream header, then frames. Every reader has its own sender
thread and a one-slot buffer holding the newest frame, so a slow reader only misses frames
(counted in `dropped`) and never blocks the pipeline; a reader that disconnects and comes
back gets a fresh header. With no reader connected `send()` does nothing. A reader that hangs up
or resets closes only its own connection: writes use MSG_NOSIGNAL, so the process never gets SIGPIPE.
"""
from __future__ import annotations

import socket
import threading
from fractions import Fraction

import cv2
import numpy as np

from .obs_core_process import LOOPBACK
from .settings import OBS_STREAM_PORT
from .stages import StageError

DEFAULT_PORT = OBS_STREAM_PORT  # `output obs-stream` without a port (parsed in settings)
HOST = LOOPBACK  # serve on loopback only
SEND_BUFFER = 64 * 1024  # bytes
NO_SIGNAL = getattr(socket, "MSG_NOSIGNAL", 0)  # Linux; elsewhere Python's own SIGPIPE=SIG_IGN applies


def y4m_header(width: int, height: int, fps: float) -> bytes:
    # The rate as integers (F30:1, F30000:1001), as the format requires; 4:2:0 with centred chroma
    # (C420jpeg), progressive, square pixels, limited range as OpenCV's BGR2YUV_I420 produces it.
    rate = Fraction(fps).limit_denominator(1001)
    return (f"YUV4MPEG2 W{width} H{height} F{rate.numerator}:{rate.denominator} Ip A1:1 C420jpeg "
            "XCOLORRANGE=LIMITED\n").encode()


class _Reader:
    """One connected client: a sender thread fed through a one-slot newest-frame buffer."""

    def __init__(self, conn: socket.socket, header: bytes, on_gone):
        self.conn = conn
        self.dropped = 0
        self._slot: np.ndarray | None = None
        self._cond = threading.Condition()
        self._closed = False
        self._header, self._on_gone = header, on_gone
        self.thread = threading.Thread(target=self._run, name="obs-stream-reader", daemon=True)
        self.thread.start()

    def offer(self, data: np.ndarray) -> None:
        with self._cond:
            if self._slot is not None:
                self.dropped += 1
            self._slot = data
            self._cond.notify()

    def _send(self, data) -> None:
        self.conn.sendall(data, NO_SIGNAL)

    def _run(self) -> None:
        try:
            self._send(self._header)
            while True:
                with self._cond:
                    while self._slot is None and not self._closed:
                        self._cond.wait()
                    if self._closed:
                        return
                    data, self._slot = self._slot, None
                self._send(b"FRAME\n")
                self._send(data)
        except OSError:  # the reader hung up or reset (BrokenPipeError, ConnectionResetError, ...)
            pass
        finally:
            self.close()
            self._on_gone(self)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        try:
            self.conn.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.conn.close()


class ObsStreamSink:
    """A Sink serving YUV4MPEG2 on 127.0.0.1:port to any number of readers."""

    stop_requested = False

    def __init__(self, port: int = DEFAULT_PORT, size: tuple[int, int] = (1280, 720), fps: float = 30):
        width, height = size
        self.size = (width & ~1, height & ~1)  # 4:2:0 needs even dimensions: drop an odd last row/column
        self.port = port
        self.name = f"obs-stream tcp://{HOST}:{port}"
        self._header = y4m_header(*self.size, fps)
        self._readers: list[_Reader] = []
        self._lock = threading.Lock()
        self._closing = False
        self._server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._server.bind((HOST, port))
            self._server.listen(4)
        except OSError as e:
            self._server.close()
            raise StageError(f"obs-stream: cannot listen on {HOST}:{port} ({e.strerror}); "
                             f"is another bgblur running? pick another port with --output obs-stream:PORT") from None
        if port == 0:
            self.port = self._server.getsockname()[1]
            self.name = f"obs-stream tcp://{HOST}:{self.port}"
        self._accepter = threading.Thread(target=self._accept, name="obs-stream-accept", daemon=True)
        self._accepter.start()

    @property
    def readers(self) -> int:
        with self._lock:
            return len(self._readers)

    @property
    def dropped(self) -> int:
        with self._lock:
            return sum(r.dropped for r in self._readers)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:  # closed by close(), or a client that reset before we got to it
                if self._closing:
                    return
                continue
            try:
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # a small kernel buffer: frames a slow reader misses are dropped in its one-slot buffer
                # instead of queueing in the socket, where they add latency OBS never catches up on
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
            except OSError:  # already reset: its reader thread will find out and drop it
                pass
            with self._lock:
                self._readers.append(_Reader(conn, self._header, self._gone))

    def _gone(self, reader: _Reader) -> None:
        with self._lock:
            if reader in self._readers:
                self._readers.remove(reader)

    def send(self, frame: np.ndarray) -> None:
        with self._lock:
            readers = list(self._readers)
        if not readers:
            return
        w, h = self.size
        if frame.ndim != 3 or frame.shape[2] != 3 or frame.shape[0] < h or frame.shape[1] < w or frame.dtype != np.uint8:
            raise StageError(f"obs-stream: invalid frame {frame.shape} {frame.dtype}; expected {h}x{w}x3 uint8")
        data = cv2.cvtColor(frame[:h, :w], cv2.COLOR_BGR2YUV_I420)  # a fresh array per frame: readers may still be sending the last one
        for reader in readers:
            reader.offer(data)

    def close(self) -> None:
        self._closing = True
        try:
            self._server.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._server.close()
        with self._lock:
            readers, self._readers = self._readers, []
        for reader in readers:
            reader.close()
        self._accepter.join(2)

    def __enter__(self) -> "ObsStreamSink":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
