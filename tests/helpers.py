"""Helpers shared by the tests (imported as `helpers`; tests/ is on sys.path)."""

import asyncio
import gc
import os
import subprocess
import sys

import aioloop

# The oracle is asyncio's own Unix loop, named directly: asyncio.new_event_loop()
# would follow the current policy, which a test may have set to aioloop's.
LOOP_FACTORIES = {
    "asyncio": asyncio.SelectorEventLoop,
    "aioloop": aioloop.new_event_loop,
}

PY312 = sys.version_info >= (3, 12)

# Whether a new loop starts in debug mode here: asyncio's rule
# (PYTHONASYNCIODEBUG, -X dev). CI runs the suite once with it set.
DEBUG_DEFAULT = sys.flags.dev_mode or (
    not sys.flags.ignore_environment and bool(os.environ.get("PYTHONASYNCIODEBUG")))


def open_fds():
    """The process's open descriptors: {fd: what it points to}."""
    fds = {}
    for name in os.listdir("/proc/self/fd"):
        try:
            fds[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            pass  # the descriptor listdir() itself used, closed by now
    return fds


def assert_no_fd_leak(before):
    gc.collect()
    after = open_fds()
    leaked = {fd: target for fd, target in after.items() if before.get(fd) != target}
    assert not leaked, f"descriptors left open: {leaked}"


def run_briefly(loop, passes=1):
    """Run exactly `passes` passes of the loop (stop() before run_forever
    runs one pass; each pass's callbacks may schedule more)."""
    for _ in range(passes):
        loop.stop()
        loop.run_forever()


def run_until(loop, predicate, timeout=10.0):
    """Run the loop until predicate() is true; fail after `timeout` seconds."""
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "timed out waiting for the loop"
        loop.call_later(0.001, loop.stop)
        loop.run_forever()


def run_python(code, *, env=None, args=()):
    """Run `code` in a fresh interpreter (this one, with aioloop importable);
    return its stdout. Fails the test on a non-zero exit."""
    full_env = dict(os.environ)
    full_env.pop("PYTHONASYNCIODEBUG", None)
    full_env.pop("PYTHONDEVMODE", None)
    full_env.update(env or {})
    proc = subprocess.run(
        [sys.executable, *args, "-c", code],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc.stdout


def wait_for_threads(baseline, timeout=10.0):
    """Wait until at most `baseline` threads are alive (or `timeout` seconds
    pass); returns the number alive then."""
    import threading
    import time
    deadline = time.monotonic() + timeout
    while threading.active_count() > baseline and time.monotonic() < deadline:
        time.sleep(0.01)
    return threading.active_count()


def take_fd_numbers_up_to(fd_number, limit=8):
    """Open eventfds until one gets `fd_number` (or `limit` more): after a
    loop's close(), its old descriptor numbers are the lowest free ones, so
    a stray write to the loop's closed eventfd then lands in one of ours.
    Returns our fds; the caller closes them."""
    mine = []
    while True:
        fd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        mine.append(fd)
        if fd >= fd_number or len(mine) > limit:
            return mine


def in_forked_child(check):
    """Run check() in a fork()ed child; its exit code: 0 when check()
    returned true, 2 when false, 1 when it raised."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        code = 1
        try:
            code = 0 if check() else 2
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
