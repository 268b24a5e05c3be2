"""Dial strings, the Resolver (against a stub DNS server on 127.0.0.1 that
counts queries), happy eyeballs, announce/listen/accept. No traffic leaves
this machine."""

import asyncio
import os
import socket
import socketserver
import struct
import tempfile
import threading

import dns.flags
import dns.message
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

import aioloop
from helpers import assert_no_fd_leak, open_fds


# --- a stub DNS server ----------------------------------------------------------

class StubDNS:
    """Answers from `records` {(name, type): (ttl, [values])}; names in
    `nx` get NXDOMAIN (with an SOA whose minimum is nx_ttl), names in
    `silent` get nothing, names in `truncate` get TC over UDP and the
    answer over TCP. Counts queries per (name, type, transport)."""

    def __init__(self):
        self.records = {}
        self.nx = set()
        self.nx_ttl = 30
        self.silent = set()
        self.truncate = set()
        self.queries = {}
        self.lock = threading.Lock()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.port = self.udp.getsockname()[1]
        self.tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.tcp.bind(("127.0.0.1", self.port))
        self.tcp.listen(8)
        # Closing a socket does not wake a thread blocked on it: poll.
        self.udp.settimeout(0.05)
        self.tcp.settimeout(0.05)
        self.stopping = False
        self.threads = [threading.Thread(target=self._serve_udp, daemon=True),
                        threading.Thread(target=self._serve_tcp, daemon=True)]
        for t in self.threads:
            t.start()

    def count(self, name, rdtype, transport="udp"):
        with self.lock:
            return self.queries.get((name, rdtype, transport), 0)

    def _answer(self, wire, transport):
        q = dns.message.from_wire(wire)
        question = q.question[0]
        name = question.name.to_text(omit_final_dot=True)
        rdtype = dns.rdatatype.to_text(question.rdtype)
        with self.lock:
            key = (name, rdtype, transport)
            self.queries[key] = self.queries.get(key, 0) + 1
        if name in self.silent:
            return None
        r = dns.message.make_response(q)
        if name in self.truncate and transport == "udp":
            r.flags |= dns.flags.TC
            return r.to_wire()
        if name in self.nx:
            r.set_rcode(dns.rcode.NXDOMAIN)
            r.authority.append(dns.rrset.from_text(
                "test.", self.nx_ttl, "IN", "SOA",
                f"ns.test. admin.test. 1 3600 600 86400 {self.nx_ttl}"))
            return r.to_wire()
        entry = self.records.get((name, rdtype))
        if entry is not None:
            ttl, values = entry
            r.answer.append(dns.rrset.from_text(question.name, ttl, "IN", rdtype, *values))
        return r.to_wire()

    def _serve_udp(self):
        while not self.stopping:
            try:
                wire, peer = self.udp.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            out = self._answer(wire, "udp")
            if out is not None:
                self.udp.sendto(out, peer)

    def _serve_tcp(self):
        while not self.stopping:
            try:
                conn, _ = self.tcp.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(5)
            with conn:
                try:
                    n = struct.unpack("!H", conn.recv(2))[0]
                    wire = b""
                    while len(wire) < n:
                        wire += conn.recv(n - len(wire))
                    out = self._answer(wire, "tcp")
                    if out is not None:
                        conn.sendall(struct.pack("!H", len(out)) + out)
                except (OSError, struct.error):
                    pass

    def close(self):
        self.stopping = True
        for t in self.threads:
            t.join(5)
        self.udp.close()
        self.tcp.close()


@pytest.fixture
def stub():
    s = StubDNS()
    yield s
    s.close()


def resolver_for(stub, **kw):
    return aioloop.Resolver(["127.0.0.1"], port=stub.port, hosts=False, **kw)


def run(coro):
    return aioloop.run(coro)


# --- dial strings -----------------------------------------------------------------

@pytest.mark.parametrize("addr, want", [
    ("tcp!example.com!80", ("tcp", "example.com", 80)),
    ("net!example.com!http", ("tcp", "example.com", 80)),
    ("udp!10.0.0.1!domain", ("udp", "10.0.0.1", 53)),
    ("tcp!::1!8080", ("tcp", "::1", 8080)),
    ("unix!/tmp/sock", ("unix", "/tmp/sock", None)),
])
def test_dial_strings_parse(addr, want):
    from aioloop.dial import parse_dial
    assert parse_dial(addr) == want


@pytest.mark.parametrize("addr, field", [
    ("ftp!host!21", "network"), ("tcp!host", "expected"), ("tcp!!80", "host"),
    ("tcp!host!", "service"), ("tcp!host!70000", "port"), ("tcp!host!nosuchsvc", "service"),
    ("tcp!*!80", "announce"), ("unix!", "path"),
])
def test_bad_dial_strings_say_which_field(addr, field):
    from aioloop.dial import parse_dial
    with pytest.raises(ValueError, match=field):
        parse_dial(addr)


def test_netmkaddr_completes_as_plan9():
    assert aioloop.netmkaddr("host") == "tcp!host"
    assert aioloop.netmkaddr("host", "udp", "53") == "udp!host!53"
    assert aioloop.netmkaddr("tcp!host", defsvc="http") == "tcp!host!http"
    assert aioloop.netmkaddr("tcp!host!22", defsvc="http") == "tcp!host!22"
    assert aioloop.netmkaddr("host:8080") == "tcp!host!8080"
    assert aioloop.netmkaddr("[::1]:8080") == "tcp!::1!8080"
    assert aioloop.netmkaddr("/run/x.sock") == "unix!/run/x.sock"
    with pytest.raises(ValueError, match="defnet"):
        aioloop.netmkaddr("host", "ftp")
    with pytest.raises(TypeError, match="addr"):
        aioloop.netmkaddr(None)


# --- the resolver -----------------------------------------------------------------

def test_resolver_queries_a_and_aaaa_and_caches_by_ttl(stub):
    stub.records[("svc.test", "A")] = (300, ["192.0.2.1", "192.0.2.2"])
    stub.records[("svc.test", "AAAA")] = (300, ["2001:db8::1"])
    stub.records[("short.test", "A")] = (1, ["192.0.2.9"])

    async def main():
        r = resolver_for(stub)
        got = await r.resolve("svc.test")
        assert sorted(got) == ["192.0.2.1", "192.0.2.2", "2001:db8::1"]
        assert await r.resolve("svc.test") == got
        assert stub.count("svc.test", "A") == 1 and stub.count("svc.test", "AAAA") == 1
        assert r.stats()["hits"] == 2 and r.stats()["queries"] == 2
        assert await r.resolve("svc.test", socket.AF_INET6) == ["2001:db8::1"]
        # TTL 1: re-queried once it has passed.
        await r.resolve("short.test", socket.AF_INET)
        await r.resolve("short.test", socket.AF_INET)
        assert stub.count("short.test", "A") == 1
        await asyncio.sleep(1.1)
        await r.resolve("short.test", socket.AF_INET)
        assert stub.count("short.test", "A") == 2

    run(main())


def test_resolver_negative_answers_are_cached_and_raise_gaierror(stub):
    stub.nx.add("nope.test")

    async def main():
        r = resolver_for(stub)
        for _ in range(3):
            with pytest.raises(socket.gaierror) as info:
                await r.resolve("nope.test")
            assert info.value.errno == socket.EAI_NONAME
        assert stub.count("nope.test", "A") == 1

    run(main())


def test_resolver_falls_back_to_tcp_on_truncation_and_times_out(stub):
    stub.records[("big.test", "A")] = (60, ["192.0.2.7"])
    stub.truncate.add("big.test")
    stub.silent.add("void.test")

    async def main():
        r = resolver_for(stub, timeout=0.5)
        assert await r.resolve("big.test", socket.AF_INET) == ["192.0.2.7"]
        assert stub.count("big.test", "A", "tcp") == 1
        with pytest.raises(socket.gaierror) as info:
            await r.resolve("void.test", socket.AF_INET)
        assert info.value.errno == socket.EAI_AGAIN

    run(main())


def test_numeric_hosts_localhost_and_etc_hosts_never_query(stub):
    async def main():
        r = aioloop.Resolver(["127.0.0.1"], port=stub.port)
        assert await r.resolve("192.0.2.5") == ["192.0.2.5"]
        assert await r.resolve("::1") == ["::1"]
        assert set(await r.resolve("localhost")) == {"127.0.0.1", "::1"}
        assert r.stats()["queries"] == 0
        assert not stub.queries

    run(main())


@pytest.mark.parametrize("kw", [dict(port=0), dict(port="53"), dict(timeout=0),
                                dict(cache_size=-1), dict(nameservers="1.1.1.1"),
                                dict(nameservers=["not-an-ip"])])
def test_bad_resolver_arguments(kw):
    with pytest.raises((ValueError, TypeError)):
        aioloop.Resolver(**kw)


def test_the_resolver_cache_is_shared_by_the_loops_of_a_scheduler(stub):
    stub.records[("shared.test", "A")] = (300, ["192.0.2.3"])
    r = resolver_for(stub)

    async def lookup():
        return await r.resolve("shared.test", socket.AF_INET)

    async def main(s):
        for i in range(4):
            assert await s.spawn(lookup(), hint=i) == ["192.0.2.3"]

    with aioloop.Scheduler(threads=4) as s:
        s.run(main(s))
    assert stub.count("shared.test", "A") == 1


# --- adial, announce, listen, accept --------------------------------------------------

def test_announce_listen_accept_and_dial_over_tcp_and_unix():
    before = open_fds()

    async def main():
        async with await aioloop.announce("tcp!127.0.0.1!0") as ann:
            port = int(ann.addr.split("!")[2])
            client = await aioloop.adial(f"tcp!127.0.0.1!{port}")
            call = await ann.listen()
            assert call.remote == client.getsockname()
            server = call.accept()
            assert client.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            loop = asyncio.get_running_loop()
            await loop.sock_sendall(client, b"ping")
            assert await loop.sock_recv(server, 4) == b"ping"
            client.close()
            server.close()
            # A rejected call is closed at once.
            c2 = await aioloop.adial(f"tcp!localhost!{port}")
            (await ann.listen()).reject()
            assert await loop.sock_recv(c2, 1) == b""
            c2.close()
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "s")
            async with await aioloop.announce(f"unix!{path}") as ann:
                r, w = await aioloop.open_dial(f"unix!{path}")
                call = await ann.listen()

                class Echo(asyncio.Protocol):
                    def connection_made(self, tr):
                        self.tr = tr

                    def data_received(self, data):
                        self.tr.write(data)

                tr, _ = await call.accept_connection(Echo)
                w.write(b"hi\n")
                assert await r.readline() == b"hi\n"
                w.close()
                await w.wait_closed()
                tr.close()
            assert not os.path.exists(path)

    run(main())
    assert_no_fd_leak(before)


def test_announce_star_is_dual_stack():
    async def main():
        async with await aioloop.announce("tcp!*!0") as ann:
            port = int(ann.addr.split("!")[2])
            for host in ("127.0.0.1", "::1"):
                s = await aioloop.adial(f"tcp!{host}!{port}")
                (await ann.listen()).reject()
                s.close()

    run(main())


def test_dial_connection_and_errors():
    async def main():
        async with await aioloop.announce("tcp!127.0.0.1!0") as ann:
            port = int(ann.addr.split("!")[2])
            tr, proto = await aioloop.dial_connection(asyncio.Protocol, f"tcp!127.0.0.1!{port}")
            (await ann.listen()).reject()
            tr.close()
        with pytest.raises(ConnectionRefusedError):
            await aioloop.adial(f"tcp!127.0.0.1!{port}")
        with pytest.raises(FileNotFoundError):
            await aioloop.adial("unix!/nonexistent/aioloop-test")

    run(main())


def test_happy_eyeballs_moves_on_from_a_black_hole_and_leaves_nothing():
    # 127.0.0.1:P is a listener whose accept queue is full (the kernel drops
    # further SYNs: the connect hangs); 127.0.0.2:P accepts. Both are on lo.
    good = socket.socket()
    good.bind(("127.0.0.2", 0))
    port = good.getsockname()[1]
    good.listen(8)
    hole = socket.socket()
    hole.bind(("127.0.0.1", port))
    hole.listen(0)
    fillers = []
    for _ in range(3):
        f = socket.socket()
        f.setblocking(False)
        try:
            f.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(f)
    class Fixed:
        # A DNS answer's order is the server's to choose: fix it here.
        def __init__(self, addrs):
            self.addrs = addrs

        async def resolve(self, host):
            return list(self.addrs)

    before = open_fds()

    async def main():
        r = Fixed(["127.0.0.1", "127.0.0.2"])
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        s = await aioloop.adial(f"tcp!eyeballs.test!{port}", resolver=r, delay=0.1)
        elapsed = loop.time() - t0
        assert s.getpeername() == ("127.0.0.2", port)
        s.close()
        assert elapsed >= 0.09
        # Cancelled mid-dial: no socket left behind.
        r = Fixed(["127.0.0.1"])
        with pytest.raises(TimeoutError):
            await aioloop.adial(f"tcp!hole.test!{port}", resolver=r, timeout=0.2)

    try:
        run(main())
        assert_no_fd_leak(before)
    finally:
        for f in fillers:
            f.close()
        hole.close()
        good.close()


def test_adial_from_every_dispatch_thread():
    async def dial_on_thread(port):
        s = await aioloop.adial(f"tcp!127.0.0.1!{port}")
        s.close()
        return aioloop.thread_index()

    async def main(s):
        srv = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = srv.sockets[0].getsockname()[1]
        got = await asyncio.gather(*(s.spawn(dial_on_thread(port), hint=i) for i in range(3)))
        srv.close()
        return got

    with aioloop.Scheduler(threads=3) as s:
        assert s.run(main(s)) == [0, 1, 2]
