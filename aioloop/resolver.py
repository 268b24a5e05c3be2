"""An asynchronous DNS resolver on the loop itself (dnspython), with a
TTL-honouring cache shared by every loop of the process.

``await Resolver().resolve(host)`` returns the host's addresses (strings):
numeric hosts at once, ``localhost`` and /etc/hosts before any query, then
A and AAAA queried concurrently through dnspython's asyncio backend on the
running loop (no thread per lookup). Failures raise socket.gaierror, as
getaddrinfo would: EAI_NONAME for a name that does not exist or has no
address, EAI_AGAIN when the servers do not answer in time.

Thread contract: the cache (an OrderedDict used as an LRU) and the counters
are guarded by one threading.Lock, held for dictionary operations only; a
lookup runs on the caller's loop, so resolvers are shared freely between the
loops of a Scheduler.
"""

import asyncio as _asyncio
import collections as _collections
import ipaddress as _ipaddress
import socket as _socket
import threading as _threading
import time as _time

import dns.asyncresolver as _dns_asyncresolver
import dns.exception as _dns_exception
import dns.rdatatype as _dns_rdatatype
import dns.resolver as _dns_resolver

__all__ = ("Resolver", "default_resolver")

# Negative answers (NXDOMAIN, no address) are cached for the zone's SOA
# minimum when the answer carries it (RFC 2308), else for this long, and
# never longer than _NEG_TTL_MAX.
_NEG_TTL_DEFAULT = 60.0
_NEG_TTL_MAX = 3600.0


def _numeric(host):
    try:
        return str(_ipaddress.ip_address(host))
    except ValueError:
        return None


def _read_hosts(path="/etc/hosts"):
    table = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.split("#", 1)[0].split()
                if len(line) < 2 or _numeric(line[0]) is None:
                    continue
                for name in line[1:]:
                    table.setdefault(name.lower().rstrip("."), []).append(line[0])
    except OSError:
        pass
    return table


def _negative_ttl(exc):
    # NXDOMAIN / NoAnswer carry the response; its authority section's SOA
    # gives the negative TTL.
    try:
        responses = exc.responses() if hasattr(exc, "responses") else {}
        resp = next(iter(responses.values()), None) if responses else exc.response()
    except Exception:
        resp = None
    if resp is not None:
        for rrset in resp.authority:
            if rrset.rdtype == _dns_rdatatype.SOA:
                return float(min(rrset.ttl, rrset[0].minimum, _NEG_TTL_MAX))
    return _NEG_TTL_DEFAULT


class Resolver:
    """dnspython's asynchronous resolver on the running loop, with a cache.

    ``nameservers`` (addresses) and ``timeout`` (seconds for a whole lookup)
    default to /etc/resolv.conf's; ``port`` is the servers' port;
    ``cache_size`` bounds the cache (entries: one per name and family);
    ``hosts=False`` skips /etc/hosts."""

    def __init__(self, nameservers=None, *, port=53, timeout=None,
                 cache_size=None, hosts=True):
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ValueError(f"port must be an int in 1..65535, got {port!r}")
        if timeout is not None and (isinstance(timeout, bool) or
                                    not isinstance(timeout, (int, float)) or timeout <= 0):
            raise ValueError(f"timeout must be a positive number, got {timeout!r}")
        if cache_size is not None and (isinstance(cache_size, bool) or
                                       not isinstance(cache_size, int) or cache_size < 0):
            raise ValueError(f"cache_size must be an int >= 0, got {cache_size!r}")
        if nameservers is not None:
            if isinstance(nameservers, str) or not all(
                    _numeric(ns) for ns in nameservers):
                raise ValueError("nameservers must be a list of IP addresses, "
                                 f"got {nameservers!r}")
        try:
            r = _dns_asyncresolver.Resolver(configure=nameservers is None)
        except _dns_resolver.NoResolverConfiguration:
            r = _dns_asyncresolver.Resolver(configure=False)
            r.nameservers = ["127.0.0.1"]
        if nameservers is not None:
            r.nameservers = list(nameservers)
        r.port = port
        if timeout is not None:
            r.lifetime = float(timeout)
        r.cache = None              # ours, shared and counted, replaces it
        self._r = r
        self._hosts = _read_hosts() if hosts else {}
        self._cache_size = 1024 if cache_size is None else cache_size
        self._lock = _threading.Lock()
        self._cache = _collections.OrderedDict()   # (name, rdtype) -> (expires, addrs)
        self._hits = self._misses = self._queries = 0

    def __repr__(self):
        return f"<aioloop.Resolver nameservers={self._r.nameservers!r} port={self._r.port}>"

    @property
    def nameservers(self):
        return list(self._r.nameservers)

    def stats(self):
        with self._lock:
            return {"hits": self._hits, "misses": self._misses,
                    "queries": self._queries, "cached": len(self._cache)}

    def clear_cache(self):
        with self._lock:
            self._cache.clear()

    def _cached(self, key):
        now = _time.monotonic()
        with self._lock:
            entry = self._cache.get(key)
            if entry is not None and entry[0] > now:
                self._cache.move_to_end(key)
                self._hits += 1
                return entry[1]
            if entry is not None:
                del self._cache[key]
            self._misses += 1
        return None

    def _store(self, key, ttl, addrs):
        if self._cache_size == 0 or ttl <= 0:
            return
        with self._lock:
            self._cache[key] = (_time.monotonic() + ttl, addrs)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)

    async def _query(self, name, rdtype):
        key = (name, rdtype)
        hit = self._cached(key)
        if hit is not None:
            return hit
        with self._lock:
            self._queries += 1
        try:
            answer = await self._r.resolve(name, rdtype, search=False)
        except (_dns_resolver.NXDOMAIN, _dns_resolver.NoAnswer) as e:
            self._store(key, _negative_ttl(e), ())
            return ()
        except (_dns_exception.Timeout, _dns_resolver.LifetimeTimeout,
                _dns_resolver.NoNameservers) as e:
            raise _socket.gaierror(_socket.EAI_AGAIN,
                                   f"Temporary failure in name resolution: {e}") from None
        addrs = tuple(r.address for r in answer if hasattr(r, "address"))
        self._store(key, float(answer.rrset.ttl) if answer.rrset is not None else 0, addrs)
        return addrs

    async def resolve(self, host, family=_socket.AF_UNSPEC):
        """The addresses of `host`: IPv4 before IPv6 within what each query
        returned (adial interleaves them). family = AF_INET / AF_INET6 asks
        only for that one."""
        if not isinstance(host, str) or not host:
            raise TypeError(f"host must be a non-empty str, got {host!r}")
        if family not in (_socket.AF_UNSPEC, _socket.AF_INET, _socket.AF_INET6):
            raise ValueError(f"family must be AF_UNSPEC, AF_INET or AF_INET6, got {family!r}")
        num = _numeric(host)
        if num is not None:
            return [num]
        name = host.lower().rstrip(".")
        if name == "localhost" or name.endswith(".localhost"):
            local = {"127.0.0.1": _socket.AF_INET, "::1": _socket.AF_INET6}
            return [a for a, f in local.items() if family in (_socket.AF_UNSPEC, f)]
        if name in self._hosts:
            found = [a for a in self._hosts[name]
                     if family == _socket.AF_UNSPEC or
                     (":" in a) == (family == _socket.AF_INET6)]
            if found:
                return found
        kinds = []
        if family in (_socket.AF_UNSPEC, _socket.AF_INET):
            kinds.append("A")
        if family in (_socket.AF_UNSPEC, _socket.AF_INET6):
            kinds.append("AAAA")
        # A and AAAA concurrently (dnspython's resolve_name asks in turn).
        results = await _asyncio.gather(*(self._query(name, k) for k in kinds))
        addrs = [a for r in results for a in r]
        if not addrs:
            raise _socket.gaierror(_socket.EAI_NONAME, f"Name or service not known: {host!r}")
        return addrs


_default = None
_default_lock = _threading.Lock()


def default_resolver():
    """The process's default Resolver (made on first use; its cache is
    shared by every loop)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = Resolver()
        return _default
