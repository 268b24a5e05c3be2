"""Dialing with Plan 9 dial strings: adial, announce, listen and accept.

A dial string is ``net!host!service``: net is ``tcp``, ``udp``, ``unix`` or
``net`` (= tcp); service is a decimal port or a name from /etc/services;
``unix!/path`` names a Unix socket; IPv6 literals need no brackets
(``tcp!::1!80``); ``*`` as an announce host means every address
(dual-stack). ``netmkaddr`` completes a partial address as Plan 9's does.

``adial`` resolves on the loop (aioloop.Resolver) and connects with happy
eyeballs (RFC 8305): addresses sorted with the families interleaved, a new
attempt every ``delay`` seconds until one connects; the losers are closed.
"""

import asyncio as _asyncio
import os as _os
import socket as _socket
from asyncio import events as _events

from .resolver import default_resolver

__all__ = ("netmkaddr", "parse_dial", "adial", "open_dial", "dial_connection",
           "announce", "Announcement", "Call")

_NETS = {"tcp": "tcp", "net": "tcp", "udp": "udp", "unix": "unix"}
HAPPY_EYEBALLS_DELAY = 0.25


def netmkaddr(addr, defnet="tcp", defsvc=None):
    """Complete `addr` into a dial string, as Plan 9's netmkaddr: a bare
    name becomes ``defnet!name[!defsvc]``, ``net!name`` gets ``!defsvc``;
    ``host:port`` (one colon, or ``[v6]:port``) and ``/path`` (unix) are
    accepted too."""
    if not isinstance(addr, str) or not addr:
        raise TypeError(f"addr must be a non-empty str, got {addr!r}")
    if defnet not in _NETS:
        raise ValueError(f"defnet must be one of {sorted(_NETS)}, got {defnet!r}")
    if defsvc is not None and not isinstance(defsvc, (str, int)):
        raise TypeError(f"defsvc must be a str, an int or None, got {defsvc!r}")
    if "!" in addr:
        parts = addr.split("!")
        if len(parts) == 2 and parts[0] != "unix" and defsvc is not None:
            return f"{addr}!{defsvc}"
        return addr
    if addr.startswith("/"):
        return f"unix!{addr}"
    if addr.startswith("[") and "]:" in addr:
        host, port = addr[1:].split("]:", 1)
        return f"{defnet}!{host}!{port}"
    if addr.count(":") == 1:
        host, port = addr.split(":")
        return f"{defnet}!{host}!{port}"
    if defsvc is None:
        return f"{defnet}!{addr}"
    return f"{defnet}!{addr}!{defsvc}"


def _service(svc, net):
    if svc.isdigit():
        port = int(svc)
        if port > 65535:
            raise ValueError(f"dial string: service {svc!r} is not a port (0-65535)")
        return port
    try:
        return _socket.getservbyname(svc, net)
    except OSError:
        raise ValueError(f"dial string: service {svc!r} is neither a port nor "
                         f"a {net} service in /etc/services") from None


def parse_dial(addr, *, announce=False):
    """Split a dial string: ``(net, host, port)`` for tcp/udp, ``('unix',
    path, None)``. ValueError says which field is wrong."""
    if not isinstance(addr, str):
        raise TypeError(f"addr must be a str, got {addr!r}")
    parts = addr.split("!")
    net = _NETS.get(parts[0])
    if net is None:
        raise ValueError(f"dial string {addr!r}: network {parts[0]!r} is not "
                         f"one of tcp, udp, unix, net")
    if net == "unix":
        path = "!".join(parts[1:])
        if len(parts) < 2 or not path:
            raise ValueError(f"dial string {addr!r}: unix needs a path (unix!/path)")
        return "unix", path, None
    if len(parts) != 3:
        raise ValueError(f"dial string {addr!r}: expected {parts[0]}!host!service")
    host, svc = parts[1], parts[2]
    if not host:
        raise ValueError(f"dial string {addr!r}: empty host")
    if host == "*" and not announce:
        raise ValueError(f"dial string {addr!r}: host '*' is for announce only")
    if not svc:
        raise ValueError(f"dial string {addr!r}: empty service")
    return net, host, _service(svc, net)


def _interleave(addrs):
    # RFC 8305 section 4: alternate families, starting with the first's.
    v6 = [a for a in addrs if ":" in a]
    v4 = [a for a in addrs if ":" not in a]
    first, second = (v6, v4) if addrs and ":" in addrs[0] else (v4, v6)
    out = []
    for i in range(max(len(first), len(second))):
        out.extend(x[i] for x in (first, second) if i < len(x))
    return out


def _sockaddr(ip, port):
    return (ip, port, 0, 0) if ":" in ip else (ip, port)


async def _connect_one(loop, ip, port, kind, local):
    family = _socket.AF_INET6 if ":" in ip else _socket.AF_INET
    sock = _socket.socket(family, kind)
    try:
        sock.setblocking(False)
        if local is not None:
            sock.bind(local)
        if kind == _socket.SOCK_STREAM:
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        await loop.sock_connect(sock, _sockaddr(ip, port))
        return sock
    except BaseException:
        sock.close()
        raise


async def _happy_eyeballs(loop, addrs, port, kind, local, delay):
    errors = []
    attempts = []
    winner = None
    pending = set()
    try:
        for ip in addrs:
            t = loop.create_task(_connect_one(loop, ip, port, kind, local))
            attempts.append(t)
            pending.add(t)
            # The next attempt starts when one fails or `delay` passes.
            done, pending = await _asyncio.wait(
                pending, timeout=delay, return_when=_asyncio.FIRST_COMPLETED)
            for d in done:
                if d.exception() is None:
                    winner = d.result()
                    return winner
                errors.append(d.exception())
        while pending:
            done, pending = await _asyncio.wait(pending, return_when=_asyncio.FIRST_COMPLETED)
            for d in done:
                if d.exception() is None:
                    winner = d.result()
                    return winner
                errors.append(d.exception())
    finally:
        for t in attempts:
            if not t.done():
                t.cancel()
        for t in attempts:
            if not t.done():
                try:
                    await t
                except BaseException:
                    pass
            elif not t.cancelled() and t.exception() is None and t.result() is not winner:
                t.result().close()      # a loser that connected too
    if len(errors) == 1:
        raise errors[0]
    first = errors[0]
    err = OSError(first.errno, "could not connect to any address: " +
                  "; ".join(str(e) for e in errors))
    err.errors = errors
    raise err


async def adial(addr, *, local=None, timeout=None, resolver=None,
                delay=HAPPY_EYEBALLS_DELAY):
    """Resolve and connect `addr` (a dial string); returns the connected
    non-blocking socket (TCP_NODELAY on for tcp). `local` is an address to
    bind first, `timeout` bounds the whole dial (TimeoutError)."""
    net, host, port = parse_dial(addr)
    loop = _events.get_running_loop()
    if timeout is not None and (isinstance(timeout, bool) or
                                not isinstance(timeout, (int, float)) or timeout <= 0):
        raise ValueError(f"timeout must be a positive number, got {timeout!r}")
    if not isinstance(delay, (int, float)) or delay <= 0:
        raise ValueError(f"delay must be a positive number, got {delay!r}")

    async def dial():
        if net == "unix":
            sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
            try:
                sock.setblocking(False)
                await loop.sock_connect(sock, host)
            except BaseException:
                sock.close()
                raise
            return sock
        r = resolver if resolver is not None else default_resolver()
        addrs = _interleave(await r.resolve(host))
        kind = _socket.SOCK_STREAM if net == "tcp" else _socket.SOCK_DGRAM
        return await _happy_eyeballs(loop, addrs, port, kind, local, delay)

    if timeout is None:
        return await dial()
    async with _asyncio.timeout(timeout):
        return await dial()


async def open_dial(addr, *, local=None, timeout=None, resolver=None, **kwargs):
    """adial(), then asyncio's streams over the socket: (reader, writer)."""
    sock = await adial(addr, local=local, timeout=timeout, resolver=resolver)
    try:
        return await _asyncio.open_connection(sock=sock, **kwargs)
    except BaseException:
        sock.close()
        raise


async def dial_connection(protocol_factory, addr, ssl=None, *, local=None,
                          timeout=None, resolver=None, server_hostname=None,
                          **kwargs):
    """adial(), then loop.create_connection() over the socket (TLS with
    ssl=, the dial string's host as server_hostname): (transport, protocol)."""
    net, host, _ = parse_dial(addr)
    sock = await adial(addr, local=local, timeout=timeout, resolver=resolver)
    loop = _events.get_running_loop()
    if ssl and server_hostname is None and net != "unix":
        server_hostname = host
    try:
        return await loop.create_connection(protocol_factory, sock=sock, ssl=ssl,
                                            server_hostname=server_hostname, **kwargs)
    except BaseException:
        sock.close()
        raise


class Call:
    """An incoming call on an Announcement: accept() or reject() it."""

    def __init__(self, sock, remote, local):
        self._sock = sock
        self.remote = remote
        self.local = local

    def __repr__(self):
        return f"<aioloop.Call from {self.remote!r} to {self.local!r}>"

    def accept(self):
        """The call's socket (non-blocking; TCP_NODELAY on for tcp)."""
        sock, self._sock = self._sock, None
        if sock is None:
            raise RuntimeError("the call was already accepted or rejected")
        return sock

    async def accept_connection(self, protocol_factory, **kwargs):
        """Accept as a transport: (transport, protocol)."""
        sock = self.accept()
        loop = _events.get_running_loop()
        try:
            return await loop.connect_accepted_socket(protocol_factory, sock, **kwargs)
        except BaseException:
            sock.close()
            raise

    def reject(self):
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


class Announcement:
    """A socket announced on a dial string, waiting for calls."""

    def __init__(self, net, sock, addr):
        self.net = net
        self.socket = sock
        self.addr = addr

    def __repr__(self):
        return f"<aioloop.Announcement {self.addr}>"

    async def listen(self):
        """Wait for the next incoming call; returns a Call."""
        if self.net == "udp":
            raise ValueError("udp announcements take no calls: read the "
                             "announcement's socket")
        loop = _events.get_running_loop()
        sock, remote = await loop.sock_accept(self.socket)
        sock.setblocking(False)
        if self.net == "tcp":
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        return Call(sock, remote, sock.getsockname())

    def close(self):
        sock, self.socket = self.socket, None
        if sock is None:
            return
        path = sock.getsockname() if self.net == "unix" else None
        sock.close()
        if path and isinstance(path, str) and not path.startswith("\0"):
            try:
                _os.unlink(path)
            except FileNotFoundError:
                pass

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        self.close()


async def announce(addr, *, backlog=100, resolver=None):
    """Bind and listen on `addr` (a dial string; ``tcp!*!port`` for every
    address, IPv4 and IPv6); returns an Announcement whose ``addr`` has the
    real port."""
    net, host, port = parse_dial(addr, announce=True)
    if net == "unix":
        sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
        try:
            sock.bind(host)
            sock.listen(backlog)
            sock.setblocking(False)
        except BaseException:
            sock.close()
            raise
        return Announcement(net, sock, f"unix!{host}")
    kind = _socket.SOCK_STREAM if net == "tcp" else _socket.SOCK_DGRAM
    if host == "*":
        family, ip = (_socket.AF_INET6, "::") if _socket.has_ipv6 else (_socket.AF_INET, "0.0.0.0")
    else:
        r = resolver if resolver is not None else default_resolver()
        ip = (await r.resolve(host))[0]
        family = _socket.AF_INET6 if ":" in ip else _socket.AF_INET
    sock = _socket.socket(family, kind)
    try:
        if family == _socket.AF_INET6 and host == "*":
            sock.setsockopt(_socket.IPPROTO_IPV6, _socket.IPV6_V6ONLY, 0)
        sock.setsockopt(_socket.SOL_SOCKET, _socket.SO_REUSEADDR, 1)
        sock.bind(_sockaddr(ip, port))
        if kind == _socket.SOCK_STREAM:
            sock.listen(backlog)
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    real = sock.getsockname()[1]
    return Announcement(net, sock, f"{net}!{host}!{real}")

