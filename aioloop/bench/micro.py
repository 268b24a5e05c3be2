"""Micro benchmarks: the loop's scheduling paths, one operation kind each.

Each benchmark is a function ``bench_X(loop, n) -> seconds`` that runs on a fresh
loop in its own worker process and times only the operations themselves.  A
warm-up run at a tenth of the size comes first (it creates the default
executor's threads, fills free lists, warms the caches), then ``repeat`` timed
runs of which the fastest counts: on a shared machine a slower run measures
the neighbours, not the loop (timeit's reasoning).  The figure reported is
operations per second; the ratio to asyncio is ops/s over asyncio's ops/s in
the same round.
"""

import asyncio
import threading
import time

from .model import Workload
from .proc import run_json, worker_argv


def bench_call_soon(loop, n, batch=1000):
    """n call_soon callbacks, scheduled in batches of `batch` from a callback."""
    count = 0
    batches = max(1, n // batch)

    def cb():
        nonlocal count
        count += 1

    def schedule_batch(left):
        for _ in range(batch):
            loop.call_soon(cb)
        if left > 1:
            loop.call_soon(schedule_batch, left - 1)
        else:
            loop.call_soon(loop.stop)

    loop.call_soon(schedule_batch, batches)
    t0 = time.perf_counter()
    loop.run_forever()
    dt = time.perf_counter() - t0
    if count != batches * batch:
        raise RuntimeError(f"ran {count} of {batches * batch} callbacks")
    return dt


def bench_timers(loop, n):
    """n call_later timers with delays spread over 0-1 ms; every other one is
    cancelled; ends when the last surviving timer has fired."""
    async def main():
        done = loop.create_future()
        left = (n + 1) // 2

        def cb():
            nonlocal left
            left -= 1
            if left == 0:
                done.set_result(None)

        t0 = time.perf_counter()
        handles = [loop.call_later((i % 100) * 1e-5, cb) for i in range(n)]
        for h in handles[1::2]:
            h.cancel()
        await done
        return time.perf_counter() - t0

    return loop.run_until_complete(main())


def bench_future(loop, n):
    """n rounds of: create a future, have a loop callback set its result, await it."""
    async def main():
        create_future = loop.create_future
        call_soon = loop.call_soon
        t0 = time.perf_counter()
        for i in range(n):
            fut = create_future()
            call_soon(fut.set_result, i)
            await fut
        return time.perf_counter() - t0

    return loop.run_until_complete(main())


def bench_sleep0(loop, n):
    """n sequential ``await asyncio.sleep(0)`` in one task."""
    async def main():
        sleep = asyncio.sleep
        t0 = time.perf_counter()
        for _ in range(n):
            await sleep(0)
        return time.perf_counter() - t0

    return loop.run_until_complete(main())


def bench_gather(loop, n):
    """asyncio.gather of n trivial coroutines (n tasks created, run, collected)."""
    async def noop():
        return None

    async def main():
        t0 = time.perf_counter()
        results = await asyncio.gather(*[noop() for _ in range(n)])
        dt = time.perf_counter() - t0
        if len(results) != n:
            raise RuntimeError("gather lost results")
        return dt

    return loop.run_until_complete(main())


def bench_threadsafe(loop, n):
    """n call_soon_threadsafe calls from another thread; ends when the loop has run all n."""
    async def main():
        done = loop.create_future()
        count = 0

        def cb():
            nonlocal count
            count += 1
            if count == n:
                done.set_result(None)

        def producer():
            call = loop.call_soon_threadsafe
            for _ in range(n):
                call(cb)

        thread = threading.Thread(target=producer)
        t0 = time.perf_counter()
        thread.start()
        await done
        dt = time.perf_counter() - t0
        thread.join()
        return dt

    return loop.run_until_complete(main())


def bench_executor(loop, n):
    """n sequential ``await loop.run_in_executor(None, f)`` round trips on the default executor."""
    def f():
        return None

    async def main():
        run = loop.run_in_executor
        t0 = time.perf_counter()
        for _ in range(n):
            await run(None, f)
        return time.perf_counter() - t0

    return loop.run_until_complete(main())


def bench_flood_latency(loop, n, producers=4):
    """Timer latency under a cross-thread flood: how long ``asyncio.sleep(0.05)``
    takes while `producers` threads call ``call_soon_threadsafe`` as fast as
    they can (the Scheduler's normal load). One sleep per call; the figure is
    the time it took (ops/s is its inverse). `n` is unused."""
    stop = threading.Event()

    def noop():
        pass

    def flood():
        call = loop.call_soon_threadsafe
        while not stop.is_set():
            for _ in range(100):
                call(noop)

    async def main():
        threads = [threading.Thread(target=flood) for _ in range(producers)]
        for t in threads:
            t.start()
        try:
            await asyncio.sleep(0.01)          # the flood is under way
            t0 = time.perf_counter()
            await asyncio.sleep(0.05)
            dt = time.perf_counter() - t0
        finally:
            stop.set()
            for t in threads:
                t.join()
        # Posts are FIFO: once this one has run, the flood's backlog has
        # too, and the next run starts from an empty queue.
        drained = loop.create_future()
        loop.call_soon_threadsafe(drained.set_result, None)
        await drained
        return dt

    return loop.run_until_complete(main())


def _fsync_cell(loop, n, call):
    """n sequential fsync round trips through `call(fd)` (a function returning
    an awaitable), on a file in /dev/shm when it exists: tmpfs makes fsync
    a no-op in the kernel, so the figure is the round trip to the daemon
    thread and back, not the disk."""
    import os
    import tempfile
    shm = "/dev/shm"
    fd, path = tempfile.mkstemp(prefix="aioloop-bench-",
                                dir=shm if os.path.isdir(shm) else None)
    try:
        async def main():
            t0 = time.perf_counter()
            for _ in range(n):
                await call(fd)
            return time.perf_counter() - t0

        return loop.run_until_complete(main())
    finally:
        os.close(fd)
        os.unlink(path)


def bench_fsync_executor(loop, n):
    """n sequential ``await loop.run_in_executor(None, os.fsync, fd)``."""
    import os
    return _fsync_cell(loop, n, lambda fd: loop.run_in_executor(None, os.fsync, fd))


def bench_fsync_daemon(loop, n):
    """n sequential ``await aioloop.daemon.fsync(fd)`` (the running loop's
    default executor: aioloop's daemon pool, or the loop's own)."""
    from ..daemon import fsync
    return _fsync_cell(loop, n, fsync)


class _StubDNS:
    """A DNS server on 127.0.0.1 in a thread of its own, for the dns cells:
    every A query is answered 127.0.0.1 and every AAAA ::1, TTL 300 (built with
    dnspython's message API). No traffic leaves the machine."""

    def __init__(self):
        import socket
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.queries = 0
        self.thread = threading.Thread(target=self._serve, name="stub-dns", daemon=True)
        self.thread.start()

    def _serve(self):
        import dns.message
        import dns.rdatatype
        import dns.rrset
        answers = {dns.rdatatype.A: "127.0.0.1", dns.rdatatype.AAAA: "::1"}
        while True:
            data, addr = self.sock.recvfrom(4096)
            if data == b"stop":
                return
            q = dns.message.from_wire(data)
            r = dns.message.make_response(q)
            question = q.question[0]
            if question.rdtype in answers:
                r.answer.append(dns.rrset.from_text(
                    question.name, 300, "IN", dns.rdatatype.to_text(question.rdtype),
                    answers[question.rdtype]))
            self.queries += 1
            self.sock.sendto(r.to_wire(), addr)

    def close(self):
        import socket
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.sendto(b"stop", ("127.0.0.1", self.port))
        self.thread.join()
        self.sock.close()


def _bench_resolver(loop, n, names):
    from ..resolver import Resolver

    stub = _StubDNS()
    try:
        resolver = Resolver(["127.0.0.1"], port=stub.port, timeout=10, hosts=False,
                            cache_size=n + 16)

        async def main():
            resolve = resolver.resolve
            t0 = time.perf_counter()
            for i in range(n):
                addrs = await resolve(names(i))
            dt = time.perf_counter() - t0
            if sorted(addrs) != ["127.0.0.1", "::1"]:
                raise RuntimeError(f"resolved to {addrs}")
            return dt

        return loop.run_until_complete(main())
    finally:
        stub.close()


def bench_dns_cold(loop, n):
    """n lookups of n different names through aioloop.Resolver (dnspython on
    the loop; A and AAAA each asked of a stub server on 127.0.0.1)."""
    # A per-run prefix: the warm-up must not fill the timed run's cache.
    prefix = f"r{time.perf_counter_ns()}"
    return _bench_resolver(loop, n, lambda i: f"h{i}.{prefix}.bench.test")


def bench_dns_cached(loop, n):
    """n lookups of one name through aioloop.Resolver: every one but the
    first is answered from its cache."""
    return _bench_resolver(loop, n, lambda i: "cached.bench.test")


def bench_getaddrinfo(loop, n):
    """n sequential ``loop.getaddrinfo('localhost', 80)``: the system resolver
    on the loop's default executor (answered from /etc/hosts, no query)."""
    async def main():
        getaddrinfo = loop.getaddrinfo
        t0 = time.perf_counter()
        for _ in range(n):
            await getaddrinfo("localhost", 80, type=1)
        return time.perf_counter() - t0

    return loop.run_until_complete(main())


# name -> (function, operations, title)
BENCHMARKS = {
    "call_soon": (bench_call_soon, 1_000_000, "call_soon 1M (batches of 1000)"),
    "timers": (bench_timers, 100_000, "call_later 100k, half cancelled"),
    "future": (bench_future, 100_000, "future create/set/await 100k"),
    "sleep0": (bench_sleep0, 100_000, "sleep(0) 100k"),
    "gather": (bench_gather, 100_000, "gather of 100k coroutines"),
    "threadsafe": (bench_threadsafe, 200_000, "call_soon_threadsafe 200k from a thread"),
    "executor": (bench_executor, 10_000, "run_in_executor 10k sequential"),
    "fsync_executor": (bench_fsync_executor, 10_000,
                       "fsync 10k sequential: run_in_executor(None, os.fsync, fd)"),
    "fsync_daemon": (bench_fsync_daemon, 10_000,
                     "fsync 10k sequential: await aioloop.daemon.fsync(fd)"),
    "flood": (bench_flood_latency, 1, "sleep(50 ms) under a 4-thread call_soon_threadsafe flood"),
    "dns_cold": (bench_dns_cold, 2_000, "DNS: Resolver, 2k names from a stub server"),
    "dns_cached": (bench_dns_cached, 20_000, "DNS: Resolver, one name 20k times (cached)"),
    "getaddrinfo": (bench_getaddrinfo, 5_000, "DNS: getaddrinfo('localhost') 5k on the executor"),
}

QUICK = ("call_soon", "timers", "future", "sleep0", "threadsafe", "executor")


PRIMARY = "ops_per_s"
HIGHER_IS_BETTER = True
COLUMNS = ("ops_per_s", "seconds")


def workloads(quick=False):
    """The micro workloads, in table order (the --quick subset when quick)."""
    return [
        Workload(id=f"micro-{name}", suite="micro", title=title, params={"name": name, "ops": ops})
        for name, (_, ops, title) in BENCHMARKS.items()
        if not quick or name in QUICK
    ]


def run_in_worker(loop, name, repeat=1):
    """Worker side: warm up, then time benchmark `name` on `loop` `repeat` times.
    Returns the result dict, from the fastest run."""
    fn, ops, _ = BENCHMARKS[name]
    fn(loop, max(1, ops // 10))
    seconds = min(fn(loop, ops) for _ in range(repeat))
    return {"ops": ops, "seconds": seconds, "ops_per_s": ops / seconds}


# --- driver side ---

def measure(workload, loop, settings):
    """Run one cell in a worker process; returns the metrics dict or raises CellError."""
    result = run_json(worker_argv("micro", loop=loop.factory, name=workload.params["name"],
                                  repeat=settings.repeat),
                      timeout=settings.micro_timeout, what="benchmark")
    return {"ops_per_s": result["ops_per_s"], "seconds": result["seconds"]}
