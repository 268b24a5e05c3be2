"""aio.adial: callback-style dialing over aioloop.adial, with the same
cases in asyncio style."""

import errno
import socket
import threading

import pytest

import aioloop
from aioloop import aio

from .aiotest import run_aio


def listener():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(8)
    return s


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_fdh_gets_a_connected_socket_on_the_hinted_thread():
    srv = listener()
    port = srv.getsockname()[1]
    got = {}

    def fdh(sock):
        got["thread"] = aioloop.thread_index()
        got["peer"] = sock.getpeername()
        got["blocking"] = sock.getblocking()
        sock.close()
        aio.aexit("ok")

    def start():
        aio.adial(fdh, f"tcp!127.0.0.1!{port}", errh=lambda e: aio.aexit(e), hint=1)

    try:
        assert run_aio(start, threads=2) == "ok"
        conn, _ = srv.accept()
        conn.close()
    finally:
        srv.close()
    assert got == {"thread": 1, "peer": ("127.0.0.1", port), "blocking": False}


def test_errh_gets_the_kernels_errno_for_a_refused_connection():
    port = closed_port()

    def start():
        aio.adial(lambda s: aio.aexit("connected?"), f"tcp!127.0.0.1!{port}",
                  errh=lambda e: aio.aexit(e))

    assert run_aio(start, threads=2) == errno.ECONNREFUSED


def test_errh_gets_eaddrnotavail_for_a_name_that_does_not_resolve():
    class NoSuchName:
        async def resolve(self, host):
            raise socket.gaierror(socket.EAI_NONAME, "no such name")

    def start():
        aio.adial(lambda s: aio.aexit("connected?"), "tcp!nowhere.invalid!80",
                  errh=lambda e: aio.aexit(e), resolver=NoSuchName())

    assert run_aio(start, threads=2) == errno.EADDRNOTAVAIL


def test_from_a_plain_thread_the_dial_runs_on_loop_0():
    srv = listener()
    port = srv.getsockname()[1]
    where = []

    def fdh(sock):
        where.append(aioloop.thread_index())
        sock.close()
        aio.aexit(0)

    def start():
        threading.Thread(target=aio.adial, args=(fdh, f"tcp!127.0.0.1!{port}")).start()

    try:
        assert run_aio(start, threads=2) == 0
    finally:
        srv.close()
    assert where == [0]


def test_without_errh_a_failure_goes_to_the_exception_handler():
    port = closed_port()
    seen = []

    def start():
        aio.adial(print, f"tcp!127.0.0.1!{port}")
        aio.add_interval(lambda: seen and aio.aexit(1), 0.01)

    assert run_aio(start, threads=2, errors=seen) == 1
    assert "aio.adial" in seen[0]["message"]
    assert isinstance(seen[0]["exception"], ConnectionRefusedError)


@pytest.mark.parametrize("args, kwargs, exc, match", [
    ((42, "tcp!h!1"), {}, TypeError, "fdh"),
    ((print, "tcp!h!1"), {"errh": 3}, TypeError, "errh"),
    ((print, "bogus!h!1"), {}, ValueError, "network"),
    ((print, "tcp!h!1"), {"timeout": -1}, ValueError, "timeout"),
    ((print, "tcp!h!1"), {"hint": "x"}, TypeError, "hint"),
])
def test_bad_arguments_fail_at_the_call(args, kwargs, exc, match):
    aio.ainit(2)
    try:
        with pytest.raises(exc, match=match):
            aio.adial(*args, **kwargs)
    finally:
        aio.aexit()
        aio.amain()


def test_the_asyncio_style_gives_the_same_answers():
    port = closed_port()

    async def main():
        with pytest.raises(ConnectionRefusedError):
            await aioloop.adial(f"tcp!127.0.0.1!{port}")

    aioloop.run(main(), threads=2)
