"""Fuzzing obs-stream readers against one real core: connect, read N bytes, then close, reset or
half-close. The core must keep producing frames, answer the next valid message, serve the next
reader a clean stream, and exit 0 when stdin closes (a hang-up never signals it: no SIGPIPE)."""
import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core_proc import fuzz, started

FRAME_BYTES = len(b"FRAME\n") + 320 * 240 * 3 // 2


def read_exactly(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(min(n - len(data), 65536))
        if not chunk:
            break
        data += chunk
    return data


def hang_up(sock: socket.socket, how: str) -> None:
    if how == "reset":  # SO_LINGER 0: close() sends RST, the sender sees ECONNRESET / EPIPE
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif how == "half-close":
        sock.shutdown(socket.SHUT_WR)
    sock.close()


def whole_frames(port: int, count: int = 2) -> bytes:
    """A well-behaved reader: the header, then `count` whole frames."""
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        f = s.makefile("rb")
        header = f.readline()
        for _ in range(count):
            assert f.readline() == b"FRAME\n"
            assert len(f.read(FRAME_BYTES - 6)) == FRAME_BYTES - 6
        f.close()
    return header


@pytest.fixture(scope="module")
def core():
    with started(fps=15) as c:
        yield c


readers = st.lists(st.tuples(st.integers(0, 3 * FRAME_BYTES), st.sampled_from(["close", "reset", "half-close"])),
                   min_size=1, max_size=4)


@fuzz(40)
@given(behaviour=readers)
def test_readers_that_hang_up_anywhere_never_stop_the_core(core, behaviour):
    socks = []
    for n, how in behaviour:  # several at once: each hangs up on its own
        s = socket.create_connection(("127.0.0.1", core.port), timeout=20)
        got = read_exactly(s, n)
        assert len(got) == n
        socks.append((s, how))
    for s, how in socks:
        hang_up(s, how)
    core.probe()
    assert core.proc.poll() is None


def test_after_the_fuzz_a_reader_gets_a_clean_stream_and_stdin_close_stops_the_core(core):
    core.keeps_producing()
    assert whole_frames(core.port).startswith(b"YUV4MPEG2 W320 H240 F15:1")
    assert core.broken == []
    assert core.close_stdin_and_wait() == 0
