"""The AIO daemon operations in both styles: aio.fsync(errh, fd) ... over the
aio scheduler's daemon pool, and await aioloop.daemon.fsync(fd) ... on any
loop (stock asyncio is the oracle for the asyncio style)."""

import asyncio
import concurrent.futures
import errno
import gc
import os
import stat as stat_mod
import threading

import pytest

import aioloop
from aioloop import aio
from aioloop.aio import _life
from helpers import LOOP_FACTORIES, assert_no_fd_leak, open_fds, wait_for_threads

BAD_FD = 1_000_000      # above RLIMIT_NOFILE: never open


@pytest.fixture
def aio_idle():
    """aio is idle before and after the test; no descriptor or thread left."""
    assert _life.running_scheduler() is None
    fds = open_fds()
    threads = threading.active_count()
    yield
    if _life.running_scheduler() is not None:     # a test failed half-way
        aio.aexit("cleanup")
        aio.amain()
    assert wait_for_threads(threads) == threads
    assert_no_fd_leak(fds)


def run_aio(start, *, nthr=2, naiod=2, hint=1, before=None, timeout=20.0):
    """ainit, schedule start() on dispatch thread `hint`, run amain until
    something calls aexit (a watchdog does after `timeout`); returns the
    status. `before(sched)` runs between ainit and amain, in this thread."""
    aio.ainit(nthr, naiod)
    sched = _life.require()
    if before is not None:
        before(sched)
    sched.sched(start, hint=hint)
    watchdog = threading.Timer(timeout, aio.aexit, ("watchdog",))
    watchdog.start()
    try:
        return aio.amain()
    finally:
        watchdog.cancel()
        watchdog.join()


class Recorder:
    """Handlers that record (name, value, dispatch thread index) and call
    aexit("done") once `expected` records are in."""

    def __init__(self, expected):
        self.lock = threading.Lock()
        self.got = []
        self.expected = expected

    def __call__(self, name):
        def handler(value):
            with self.lock:
                self.got.append((name, value, aioloop.thread_index()))
                done = len(self.got) == self.expected
            if done:
                aio.aexit("done")
        return handler

    def by_name(self):
        return {name: (value, index) for name, value, index in self.got}


@pytest.fixture
def files(tmp_path):
    """A 10-byte file and an empty one, both open read-write."""
    src = tmp_path / "src"
    src.write_bytes(b"0123456789")
    dst = tmp_path / "dst"
    fds = [os.open(src, os.O_RDWR), os.open(dst, os.O_RDWR | os.O_CREAT, 0o600)]
    yield src, dst, fds[0], fds[1]
    for fd in fds:
        os.close(fd)


# --- callback style: results -----------------------------------------------------

def test_every_operation_answers_on_the_requesting_dispatch_thread(aio_idle, files, tmp_path):
    src, dst, sfd, dfd = files
    rec = Recorder(expected=11)
    opened = []

    def fdh(fd):
        opened.append(fd)
        rec("open")(os.read(fd, 3))
        os.close(fd)

    def start():
        aio.open(rec("open-err"), fdh, src, os.O_RDONLY)
        aio.fsync(rec("fsync"), sfd)
        aio.access(rec("access"), str(src), os.R_OK | os.W_OK)
        aio.stat(rec("stat-err"), lambda st: rec("stat")(st.st_size), os.fsencode(src))
        aio.fstat(rec("fstat-err"), lambda st: rec("fstat")(stat_mod.S_ISREG(st.st_mode)), sfd)
        aio.pread(rec("pread-err"), rec("pread"), sfd, 4, 3)
        aio.pread(rec("pread-eof-err"), rec("pread-eof"), sfd, 4, 10)
        aio.pwrite(rec("pwrite"), dfd, bytearray(b"abc"), 5)
        aio.sendfile(rec("sendfile"), dfd, sfd, 2, 3)       # into dst at 0..3
        aio.sendfile(rec("sendfile-n-err"), dfd, sfd, 8, 100,
                     senth=rec("sendfile-n"))                # EOF after 2 bytes
        closing = os.open(src, os.O_RDONLY)
        aio.close(rec("close"), closing)

    # One daemon: the two sendfiles into dst run in order.
    assert run_aio(start, naiod=1) == "done"
    got = rec.by_name()
    assert got == {
        "open": (b"012", 1), "fsync": (0, 1), "access": (0, 1), "stat": (10, 1),
        "fstat": (True, 1), "pread": (b"3456", 1), "pread-eof": (b"", 1),
        "pwrite": (0, 1), "sendfile": (0, 1), "sendfile-n": (2, 1), "close": (0, 1),
    }
    assert len(opened) == 1
    data = dst.read_bytes()
    # Each sendfile writes at dst's file position (0, then 3).
    assert data == b"23489abc"


def test_errors_give_errh_the_errno_and_no_result_handler_runs(aio_idle, tmp_path):
    missing = tmp_path / "missing"
    rofd = os.open(__file__, os.O_RDONLY)
    rec = Recorder(expected=10)
    results = []

    def start():
        aio.open(rec("open"), results.append, missing, os.O_RDONLY)
        aio.open(rec("open-excl"), results.append, __file__, os.O_CREAT | os.O_EXCL)
        aio.fsync(rec("fsync"), BAD_FD)
        aio.close(rec("close"), BAD_FD)
        aio.access(rec("access"), f"{__file__}/x", os.F_OK)
        aio.stat(rec("stat"), results.append, missing)
        aio.fstat(rec("fstat"), results.append, BAD_FD)
        aio.pread(rec("pread"), results.append, BAD_FD, 1, 0)
        aio.pwrite(rec("pwrite"), rofd, b"x", 0)
        aio.sendfile(rec("sendfile"), BAD_FD, rofd, 0, 1)

    try:
        assert run_aio(start) == "done"
    finally:
        os.close(rofd)
    assert results == []
    assert rec.by_name() == {
        "open": (errno.ENOENT, 1), "open-excl": (errno.EEXIST, 1),
        "fsync": (errno.EBADF, 1), "close": (errno.EBADF, 1),
        "access": (errno.ENOTDIR, 1), "stat": (errno.ENOENT, 1),
        "fstat": (errno.EBADF, 1), "pread": (errno.EBADF, 1),
        "pwrite": (errno.EBADF, 1), "sendfile": (errno.EBADF, 1),
    }


def test_requests_from_plain_threads_are_answered_on_a_dispatch_thread(aio_idle):
    rec = Recorder(expected=2)
    before_amain = threading.Thread(target=aio.fsync, args=(rec("before"), BAD_FD))

    def start():
        # While amain runs, from a plain thread too.
        t = threading.Thread(target=aio.fsync, args=(rec("during"), BAD_FD))
        t.start()
        t.join()

    def before(_sched):
        before_amain.start()
        before_amain.join()

    assert run_aio(start, before=before) == "done"
    got = rec.by_name()
    assert {name: value for name, (value, _) in got.items()} == {
        "before": errno.EBADF, "during": errno.EBADF}
    assert {index for _, index in got.values()} <= {0, 1}


def test_one_daemon_answers_in_fifo_order(aio_idle, files):
    _, _, sfd, dfd = files
    order = []

    def handler(i):
        def h(err):
            order.append((i, err))
            if len(order) == 40:
                aio.aexit("done")
        return h

    def start():
        for i in range(40):
            if i % 2:
                aio.pwrite(handler(i), dfd, b"%02d" % i, 2 * i)
            else:
                aio.fsync(handler(i), sfd)

    assert run_aio(start, naiod=1) == "done"
    assert order == [(i, 0) for i in range(40)]


def test_a_handler_that_raises_goes_to_the_exception_handler(aio_idle):
    seen = []
    after = []

    def bad(err):
        raise ZeroDivisionError(err)

    def fine(err):
        after.append((err, aioloop.thread_index()))
        aio.aexit("done")

    def start():
        aio.fsync(bad, BAD_FD)
        aio.stat(fine, lambda st: 1 / 0, __file__)

    def chain(loop, ctx):
        seen.append((ctx["message"], type(ctx["exception"]), ctx["handler"],
                     aioloop.thread_index()))
        if len(seen) == 2:
            aio.fsync(fine, BAD_FD)         # the thread still dispatches

    assert run_aio(start, naiod=1,
                   before=lambda s: s.set_exception_handler(chain)) == "done"
    assert seen[0] == ("exception in a handler of aio.fsync()", ZeroDivisionError, bad, 1)
    assert seen[1][:2] == ("exception in a handler of aio.stat()", ZeroDivisionError)
    assert seen[1][3] == 1
    assert after == [(errno.EBADF, 1)]


def test_queued_requests_get_ecanceled_at_shutdown_and_nothing_leaks(aio_idle, tmp_path):
    # One daemon, blocked in open() of a FIFO that has no writer yet; two
    # requests queue behind it, one from a dispatch thread, one from a plain
    # thread; aexit. The pool cancels both while the loops still run; the
    # second cancellation lets the writer in, and the blocked open's fd is
    # still delivered.
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    lock = threading.Lock()
    got = []
    opened = []
    writer_fd = []
    writer = threading.Thread(target=lambda: writer_fd.append(os.open(fifo, os.O_WRONLY)))

    def record(name):
        def h(err):
            with lock:
                got.append((name, err, aioloop.thread_index()))
                last = len(got) == 2
            if last:
                writer.start()
        return h

    def fdh(fd):
        opened.append(fd)
        os.close(fd)

    def before(_sched):
        aio.open(record("open"), fdh, fifo, os.O_RDONLY)    # plain thread
        aio.fsync(record("plain"), 0)

    def start():
        aio.fsync(record("dispatch"), 0)
        aio.aexit("bye")

    try:
        assert run_aio(start, naiod=1, before=before) == "bye"
    finally:
        if writer.ident is not None:
            writer.join()
        for fd in writer_fd:
            os.close(fd)
    assert sorted(got) == [("dispatch", errno.ECANCELED, 1),
                           ("plain", errno.ECANCELED, 0)]
    assert len(opened) == 1


def test_operations_refuse_before_ainit_after_aexit_and_after_amain(aio_idle):
    with pytest.raises(RuntimeError, match="ainit"):
        aio.fsync(print, 0)
    errors = []

    def start():
        aio.aexit("bye")
        for call in (lambda: aio.fsync(print, 0), lambda: aio.open(print, print, "x", 0),
                     lambda: aio.stat(print, print, "x")):
            try:
                call()
            except RuntimeError as exc:
                errors.append(str(exc))

    assert run_aio(start) == "bye"
    assert errors == [f"aio.{op}(): aioloop.aio is exiting: aio.aexit() was called, "
                      "no new work is taken" for op in ("fsync", "open", "stat")]
    with pytest.raises(RuntimeError, match="ainit"):
        aio.close(print, 0)


# --- bad arguments, both styles ---------------------------------------------------

CALLBACK_BAD = [
    (aio.fsync, (None, 0), TypeError, "errh"),
    (aio.fsync, (print, "0"), TypeError, "fd"),
    (aio.fsync, (print, True), TypeError, "fd"),
    (aio.fsync, (print, -1), ValueError, "fd"),
    (aio.fsync, (print, 2 ** 31), ValueError, "fd"),
    (aio.open, (print, None, "p", 0), TypeError, "fdh"),
    (aio.open, (print, print, 3, 0), TypeError, "path"),
    (aio.open, (print, print, "a\0b", 0), ValueError, "path"),
    (aio.open, (print, print, "p", 0.0), TypeError, "flags"),
    (aio.open, (print, print, "p", 0, -1), ValueError, "mode"),
    (aio.close, (print, 1.0), TypeError, "fd"),
    (aio.access, (print, b"a\0", 0), ValueError, "path"),
    (aio.access, (print, "p", None), TypeError, "mode"),
    (aio.stat, (print, 1, "p"), TypeError, "stath"),
    (aio.stat, (print, print, None), TypeError, "path"),
    (aio.fstat, (print, print, -2), ValueError, "fd"),
    (aio.sendfile, (print, -1, 0, 0, 1), ValueError, "out_fd"),
    (aio.sendfile, (print, 1, "0", 0, 1), TypeError, "in_fd"),
    (aio.sendfile, (print, 1, 0, -1, 1), ValueError, "offset"),
    (aio.sendfile, (print, 1, 0, 0, -1), ValueError, "count"),
    (aio.pread, (print, "x", 0, 1, 0), TypeError, "datah"),
    (aio.pread, (print, print, 0, -1, 0), ValueError, "n"),
    (aio.pread, (print, print, 0, 1, None), TypeError, "offset"),
    (aio.pwrite, (print, 0, "text", 0), TypeError, "data"),
    (aio.pwrite, (print, 0, b"", -5), ValueError, "offset"),
]


@pytest.mark.parametrize("fn, args, exc, name", CALLBACK_BAD,
                         ids=[f"{c[0].__name__}-{c[3]}-{i}" for i, c in enumerate(CALLBACK_BAD)])
def test_callback_style_bad_arguments_are_refused_at_the_call(aio_idle, fn, args, exc, name):
    with pytest.raises(exc, match=rf"^{name} must"):
        fn(*args)


def test_bad_arguments_are_refused_while_aio_runs_too(aio_idle):
    refused = []

    def start():
        for fn, args, exc, name in CALLBACK_BAD:
            try:
                fn(*args)
            except exc as e:
                refused.append(str(e).startswith(f"{name} must"))
        aio.aexit("done")

    assert run_aio(start) == "done"
    assert refused == [True] * len(CALLBACK_BAD)


def test_sendfile_senth_must_be_callable(aio_idle):
    with pytest.raises(TypeError, match="^senth must be callable"):
        aio.sendfile(print, 1, 0, 0, 1, senth=3)


ASYNC_BAD = [
    (aioloop.daemon.fsync, ("0",), TypeError, "fd"),
    (aioloop.daemon.fsync, (-1,), ValueError, "fd"),
    (aioloop.daemon.open, (None, 0), TypeError, "path"),
    (aioloop.daemon.open, ("p", "r"), TypeError, "flags"),
    (aioloop.daemon.open, ("p", 0, -1), ValueError, "mode"),
    (aioloop.daemon.close, (None,), TypeError, "fd"),
    (aioloop.daemon.access, ("a\0", 0), ValueError, "path"),
    (aioloop.daemon.access, ("p", 1.5), TypeError, "mode"),
    (aioloop.daemon.stat, (0.5,), TypeError, "path"),
    (aioloop.daemon.fstat, (False,), TypeError, "fd"),
    (aioloop.daemon.sendfile, (1, 0, 0, "1"), TypeError, "count"),
    (aioloop.daemon.sendfile, (1, -3, 0, 1), ValueError, "in_fd"),
    (aioloop.daemon.pread, (0, 2 ** 31, 0), ValueError, "n"),
    (aioloop.daemon.pwrite, (0, 42, 0), TypeError, "data"),
]


@pytest.mark.parametrize("fn, args, exc, name", ASYNC_BAD,
                         ids=[f"{c[0].__name__}-{c[3]}-{i}" for i, c in enumerate(ASYNC_BAD)])
def test_asyncio_style_bad_arguments_are_refused_at_the_call(fn, args, exc, name):
    # At the call, with or without a running loop, before anything is submitted.
    with pytest.raises(exc, match=rf"^{name} must"):
        fn(*args)


def test_asyncio_style_needs_a_running_loop():
    with pytest.raises(RuntimeError, match="running event loop"):
        aioloop.daemon.fsync(0)
    with pytest.raises(RuntimeError, match="running event loop"):
        aioloop.daemon.open(__file__, os.O_RDONLY)


# --- asyncio style -----------------------------------------------------------------

def test_every_operation_returns_its_result(loop, files):
    src, dst, sfd, dfd = files
    d = aioloop.daemon

    async def main():
        fd = await d.open(src, os.O_RDONLY)
        try:
            assert os.read(fd, 2) == b"01"
            assert os.get_inheritable(fd) is False
        finally:
            assert await d.close(fd) is None
        assert await d.fsync(sfd) is None
        assert await d.access(src, os.R_OK) is None
        assert (await d.stat(src)).st_size == 10
        assert (await d.fstat(sfd)).st_size == 10
        assert await d.pread(sfd, 3, 7) == b"789"
        assert await d.pwrite(dfd, memoryview(b"xyz"), 4) == 3
        assert await d.sendfile(dfd, sfd, 0, 4) == 4
        assert await d.sendfile(dfd, sfd, 9, 5) == 1        # EOF after one byte
        return dst.read_bytes()

    # pwrite put xyz at 4; the sendfiles wrote at dst's position, 0 then 4.
    assert loop.run_until_complete(main()) == b"01239yz"


def test_errors_raise_oserror_with_the_errno(loop, tmp_path):
    d = aioloop.daemon
    missing = tmp_path / "missing"

    async def main():
        got = {}
        for name, fut in [("open", d.open(missing, os.O_RDONLY)),
                          ("fsync", d.fsync(BAD_FD)), ("close", d.close(BAD_FD)),
                          ("access", d.access(missing, os.F_OK)),
                          ("stat", d.stat(missing)), ("fstat", d.fstat(BAD_FD)),
                          ("pread", d.pread(BAD_FD, 1, 0)),
                          ("pwrite", d.pwrite(BAD_FD, b"x", 0)),
                          ("sendfile", d.sendfile(BAD_FD, BAD_FD, 0, 1))]:
            with pytest.raises(OSError) as info:
                await fut
            got[name] = (type(info.value), info.value.errno)
        return got

    got = loop.run_until_complete(main())
    assert got == {"open": (FileNotFoundError, errno.ENOENT),
                   "fsync": (OSError, errno.EBADF), "close": (OSError, errno.EBADF),
                   "access": (FileNotFoundError, errno.ENOENT),
                   "stat": (FileNotFoundError, errno.ENOENT),
                   "fstat": (OSError, errno.EBADF), "pread": (OSError, errno.EBADF),
                   "pwrite": (OSError, errno.EBADF), "sendfile": (OSError, errno.EBADF)}


def test_a_cancelled_open_closes_the_descriptor_it_opened(loop, tmp_path):
    # The open is in the kernel (blocked on a FIFO without a writer) when
    # its future is cancelled; the writer lets it return, and the fd it
    # opened for nobody must be closed (the loop fixture checks too). One
    # daemon thread: the no-op submitted after the open completes after it,
    # and its result reaches the loop after the open's, so the hand-over
    # has run by then (with several threads the fd could still be on its
    # way into the process when the test looks).
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    loop.set_default_executor(pool)

    async def main():
        fut = aioloop.daemon.open(fifo, os.O_RDONLY)
        deadline = loop.time() + 10
        while True:
            # ENXIO until the daemon's reader is in open(); then it returns.
            try:
                wfd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
                break
            except OSError as exc:
                assert exc.errno == errno.ENXIO and loop.time() < deadline
                await asyncio.sleep(0.001)
        fut.cancel()
        os.close(wfd)
        with pytest.raises(asyncio.CancelledError):
            await fut
        await loop.run_in_executor(None, int)
        for _ in range(3):
            await asyncio.sleep(0)

    try:
        loop.run_until_complete(main())
    finally:
        pool.shutdown(wait=True)
    assert [t for t in open_fds().values() if t.endswith("/fifo")] == []


def test_each_loop_gets_futures_of_its_own(tmp_path):
    # Two loops one after the other (the first closed): each call answers
    # on the loop running it.
    path = tmp_path / "f"
    path.write_bytes(b"x")
    for factory in (asyncio.new_event_loop, aioloop.new_event_loop, asyncio.new_event_loop):
        loop = factory()
        try:
            async def main():
                fd = await aioloop.daemon.open(path, os.O_RDONLY)
                assert (await aioloop.daemon.fstat(fd)).st_size == 1
                await aioloop.daemon.close(fd)
                return asyncio.get_running_loop()

            assert loop.run_until_complete(main()) is loop
        finally:
            loop.close()


def test_an_open_cancelled_at_once_leaves_no_descriptor(loop, tmp_path):
    async def main():
        fut = aioloop.daemon.open(tmp_path / "new", os.O_CREAT | os.O_WRONLY)
        fut.cancel()
        with pytest.raises(asyncio.CancelledError):
            await fut
        await asyncio.sleep(0.05)

    loop.run_until_complete(main())
    # Either it never ran, or it ran and its fd was closed: no fd is left.
    gc.collect()
    assert not [t for t in open_fds().values() if t.endswith("/new")]


def test_asyncio_style_on_a_dispatch_thread_uses_the_schedulers_pool():
    async def on_thread_1():
        fd = await aioloop.daemon.open(__file__, os.O_RDONLY)
        try:
            loop = asyncio.get_running_loop()
            return (aioloop.thread_index(), type(loop._default_executor).__name__,
                    (await aioloop.daemon.fstat(fd)).st_size)
        finally:
            await aioloop.daemon.close(fd)

    async def main():
        return await aioloop.spawn(on_thread_1(), hint=1)

    assert aioloop.run(main(), threads=2) == (1, "DaemonPool", os.path.getsize(__file__))


def test_daemon_calls_run_in_parallel(loop, tmp_path):
    # Two opens blocked in the kernel at once (two FIFOs): both daemons are
    # in a system call together, which a GIL held across it would forbid.
    fifos = [tmp_path / "a", tmp_path / "b"]
    for f in fifos:
        os.mkfifo(f)

    async def main():
        readers = [aioloop.daemon.open(f, os.O_RDONLY) for f in fifos]
        # Each writer's open returns only once its reader is in open() too.
        writers = [await asyncio.wait_for(loop.run_in_executor(None, os.open, f, os.O_WRONLY), 10)
                   for f in fifos]
        fds = [await r for r in readers]
        for fd in fds + writers:
            os.close(fd)
        return len(fds)

    assert loop.run_until_complete(main()) == 2


def test_owned_fd_closes_what_nobody_took(tmp_path):
    from aioloop.daemon import _OwnedFd
    fd = os.open(__file__, os.O_RDONLY)
    carrier = _OwnedFd(fd)
    del carrier
    with pytest.raises(OSError) as info:
        os.fstat(fd)
    assert info.value.errno == errno.EBADF
    fd = os.open(__file__, os.O_RDONLY)
    carrier = _OwnedFd(fd)
    assert carrier.take() == fd
    del carrier
    os.fstat(fd)            # still open: it was taken
    os.close(fd)


def test_an_open_cancelled_before_its_daemon_starts_never_opens(loop, loop_name, tmp_path):
    # One executor thread, busy in a blocked open of a FIFO; the second open
    # (O_CREAT) queues behind it and is cancelled: it must not create the file.
    import concurrent.futures
    pool = (aioloop.DaemonPool if loop_name == "aioloop"
            else concurrent.futures.ThreadPoolExecutor)(max_workers=1)
    loop.set_default_executor(pool)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)

    async def main():
        blocked = aioloop.daemon.open(fifo, os.O_RDONLY)
        queued = aioloop.daemon.open(tmp_path / "new", os.O_CREAT | os.O_WRONLY)
        queued.cancel()
        # The writer in a thread of its own: the executor's one is busy.
        writer = threading.Thread(target=lambda: os.close(os.open(fifo, os.O_WRONLY)))
        writer.start()
        os.close(await asyncio.wait_for(blocked, 10))
        writer.join()
        await loop.run_in_executor(None, int)       # after the queued job
        return (tmp_path / "new").exists(), queued.cancelled()

    assert loop.run_until_complete(main()) == (False, True)
