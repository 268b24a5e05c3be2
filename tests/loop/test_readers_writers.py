"""add_reader / add_writer / remove_reader / remove_writer on socketpairs,
pipes and files: return values, errors and level-triggered readiness as
asyncio's selector loop."""

import errno
import os
import socket

import pytest

from helpers import run_briefly, run_until


@pytest.fixture
def sockpair():
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


@pytest.fixture
def pipe():
    r, w = os.pipe()
    os.set_blocking(r, False)
    os.set_blocking(w, False)
    fds = [r, w]
    yield fds
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            pass


def test_add_reader_returns_none_and_calls_back_when_readable(loop, sockpair):
    a, b = sockpair
    got = []

    def on_readable(tag):
        got.append((tag, a.recv(100)))

    assert loop.add_reader(a, on_readable, "tag") is None
    run_briefly(loop)
    assert got == []  # nothing to read yet
    b.send(b"hello")
    run_until(loop, lambda: got)
    assert got == [("tag", b"hello")]
    assert loop.remove_reader(a) is True
    assert loop.remove_reader(a) is False


def test_remove_reader_of_an_fd_never_watched_returns_false(loop, sockpair):
    a, b = sockpair
    assert loop.remove_reader(a) is False
    assert loop.remove_writer(a) is False
    assert loop.remove_reader(a.fileno()) is False


def test_remove_reader_when_only_a_writer_is_registered_returns_false(loop, sockpair):
    a, b = sockpair
    loop.add_writer(a, int)
    assert loop.remove_reader(a) is False
    assert loop.remove_writer(a) is True
    assert loop.remove_writer(a) is False


def test_add_writer_calls_back_while_writable(loop, sockpair):
    a, b = sockpair
    calls = []
    assert loop.add_writer(a.fileno(), calls.append, "w") is None
    run_briefly(loop)
    assert calls == ["w"]
    run_briefly(loop)
    assert calls == ["w", "w"]
    assert loop.remove_writer(a.fileno()) is True
    run_briefly(loop)
    assert calls == ["w", "w"]


def test_reader_is_level_triggered(loop, sockpair):
    a, b = sockpair
    calls = []
    loop.add_reader(a, calls.append, 1)
    b.send(b"x")
    run_until(loop, lambda: calls)
    n = len(calls)
    run_briefly(loop, 5)  # data not consumed: readable on every pass
    assert len(calls) == n + 5
    a.recv(10)
    run_briefly(loop, 3)
    assert len(calls) == n + 5
    loop.remove_reader(a)


def test_add_reader_again_replaces_the_callback(loop, sockpair):
    a, b = sockpair
    trace = []
    loop.add_reader(a, trace.append, "first")
    assert loop.add_reader(a, trace.append, "second") is None
    b.send(b"x")
    run_until(loop, lambda: trace)
    assert set(trace) == {"second"}
    assert loop.remove_reader(a) is True
    assert loop.remove_reader(a) is False


def test_reader_and_writer_on_one_fd_are_independent(loop, sockpair):
    a, b = sockpair
    trace = []
    loop.add_reader(a, trace.append, "r")
    loop.add_writer(a, trace.append, "w")
    run_briefly(loop)
    assert trace == ["w"]
    b.send(b"x")
    trace.clear()
    run_until(loop, lambda: "r" in trace)
    assert loop.remove_writer(a) is True
    trace.clear()
    run_briefly(loop)
    assert trace == ["r"]  # the reader survived the writer's removal
    assert loop.remove_reader(a) is True
    trace.clear()
    run_briefly(loop)
    assert trace == []


def test_reader_removed_by_an_earlier_callback_of_the_same_pass_does_not_run(loop, sockpair):
    a, b = sockpair
    trace = []
    b.send(b"x")
    loop.add_reader(a, trace.append, "reader")
    run_until(loop, lambda: trace)  # readable now
    trace.clear()

    # Each pass the reader is queued after the callbacks already ready, so a
    # callback ready before the poll runs first and can remove it.
    def remover():
        trace.append("remover")
        loop.remove_reader(a)

    loop.call_soon(remover)
    run_briefly(loop, 2)
    assert trace == ["remover"]


def test_reader_can_remove_itself(loop, sockpair):
    a, b = sockpair
    calls = []

    def once():
        calls.append(a.recv(10))
        assert loop.remove_reader(a) is True

    loop.add_reader(a, once)
    b.send(b"1")
    run_until(loop, lambda: calls)
    b.send(b"2")
    run_briefly(loop, 3)
    assert calls == [b"1"]


def test_reader_sees_eof_when_the_peer_closes(loop, sockpair):
    a, b = sockpair
    got = []
    loop.add_reader(a, lambda: got.append(a.recv(10)))
    b.close()
    run_until(loop, lambda: got)
    assert got[0] == b""
    loop.remove_reader(a)


def test_pipe_reader_and_writer(loop, pipe):
    r, w = pipe
    got = []
    loop.add_reader(r, lambda: got.append(os.read(r, 100)))
    sent = []

    def writable():
        sent.append(os.write(w, b"ping"))
        loop.remove_writer(w)

    loop.add_writer(w, writable)
    run_until(loop, lambda: got)
    assert sent == [4]
    assert got == [b"ping"]
    os.close(w)
    pipe.remove(w)
    run_until(loop, lambda: len(got) >= 2)
    assert got[1] == b""  # EOF once the write end is closed
    assert loop.remove_reader(r) is True


def test_reader_on_a_regular_file_raises_permission_error(loop, tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"data")
    with open(path, "rb") as f:
        with pytest.raises(PermissionError) as info:
            loop.add_reader(f, int)
        assert info.value.errno == errno.EPERM
        with pytest.raises(PermissionError):
            loop.add_writer(f.fileno(), int)
        # Nothing was registered, and the loop still works.
        assert loop.remove_reader(f) is False
        assert loop.remove_writer(f) is False
    trace = []
    loop.call_soon(trace.append, 1)
    run_briefly(loop)
    assert trace == [1]


@pytest.mark.parametrize("bad", [-1, -100])
def test_negative_fd_raises_value_error(loop, bad):
    with pytest.raises(ValueError, match="Invalid file descriptor"):
        loop.add_reader(bad, int)
    with pytest.raises(ValueError, match="Invalid file descriptor"):
        loop.add_writer(bad, int)
    with pytest.raises(ValueError):
        loop.remove_reader(bad)


@pytest.mark.parametrize("bad", ["3", 1.5, object(), None])
def test_object_without_fileno_raises_value_error(loop, bad):
    with pytest.raises(ValueError, match="Invalid file object"):
        loop.add_reader(bad, int)
    with pytest.raises(ValueError, match="Invalid file object"):
        loop.remove_writer(bad)


def test_closed_fd_number_raises_bad_file_descriptor(loop):
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    with pytest.raises(OSError) as info:
        loop.add_reader(r, int)
    assert info.value.errno == errno.EBADF
    assert loop.remove_reader(r) is False


def test_remove_reader_after_the_fd_was_closed_returns_true(loop):
    a, b = socket.socketpair()
    loop.add_reader(a, int)
    fd = a.fileno()
    a.close()
    b.close()
    assert loop.remove_reader(fd) is True
    run_briefly(loop)


def test_reader_callback_runs_with_its_arguments(loop, sockpair):
    a, b = sockpair
    got = []
    loop.add_reader(a, lambda *args: (got.append(args), loop.remove_reader(a)), 1, "two", None)
    b.send(b"x")
    run_until(loop, lambda: got)
    assert got == [(1, "two", None)]


def test_many_fds_watched_at_once(loop):
    pairs = [socket.socketpair() for _ in range(100)]
    try:
        seen = set()
        for i, (a, b) in enumerate(pairs):
            loop.add_reader(a, seen.add, i)
        for a, b in pairs[::2]:
            b.send(b"x")
        run_until(loop, lambda: len(seen) == 50)
        run_briefly(loop)
        assert seen == set(range(0, 100, 2))
        for a, b in pairs:
            assert loop.remove_reader(a) is True
    finally:
        for a, b in pairs:
            a.close()
            b.close()


def test_remove_reader_of_a_closed_socket_object_finds_it_by_identity(loop):
    # A closed socket's fileno() is -1; asyncio's selector then looks the
    # object up among the registered ones, so close-then-remove still works.
    a, b = socket.socketpair()
    loop.add_reader(a, int)
    c, d = socket.socketpair()
    loop.add_writer(c, int)
    for s in (a, b, c, d):
        s.close()
    assert a.fileno() == -1
    assert loop.remove_reader(a) is True
    assert loop.remove_writer(c) is True
    # Once removed, the object is unknown and its -1 is invalid again.
    with pytest.raises(ValueError, match="Invalid file descriptor: -1"):
        loop.remove_reader(a)
    run_briefly(loop)


def test_reader_whose_handle_was_cancelled_is_unregistered(loop, sockpair):
    # The handle reaches user code through the exception handler's context;
    # cancelling it there removes the reader, as asyncio's selector loop does.
    a, b = sockpair
    calls = []

    def failing_reader():
        calls.append(1)
        raise RuntimeError("reader failed")

    loop.set_exception_handler(lambda lp, ctx: ctx["handle"].cancel())
    loop.add_reader(a, failing_reader)
    b.send(b"x")
    run_until(loop, lambda: calls)
    run_briefly(loop, 3)
    assert calls == [1]
    assert loop.remove_reader(a) is False
