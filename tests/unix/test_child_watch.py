"""How aioloop watches its children: a pidfd per child on the loop's poller,
the thread-per-child fallback (AIOLOOP_CHILD_WATCHER=thread), and children
that outlive loop.close(). aioloop only: these pin aioloop's own mechanism and
its documented behaviour (README), which asyncio's child watchers do not share.
"""

import asyncio
import os
import signal
import sys

import pytest

import aioloop
from unix_helpers import assert_clean, open_fds, run, wait_until, zombies

PIPE = asyncio.subprocess.PIPE
DEVNULL = asyncio.subprocess.DEVNULL


@pytest.fixture(params=["pidfd", "thread"])
def watcher(request, monkeypatch):
    """Which child watcher aioloop uses for the test."""
    if request.param == "thread":
        monkeypatch.setenv("AIOLOOP_CHILD_WATCHER", "thread")
    else:
        monkeypatch.delenv("AIOLOOP_CHILD_WATCHER", raising=False)
    return request.param


@pytest.fixture
def aloop(watcher):
    before = open_fds()
    lp = aioloop.new_event_loop()
    try:
        yield lp
    finally:
        if not lp.is_closed():
            lp.close()
        del lp
    assert_clean(before)


def _pidfds():
    return [fd for fd, path in open_fds().items() if "pidfd" in path]


def test_a_child_is_watched_through_a_pidfd_or_a_thread(aloop, watcher):
    async def main():
        pidfds_before = _pidfds()
        proc = await asyncio.create_subprocess_exec("sleep", "30")
        watched = dict(aloop._children)
        new_pidfds = [fd for fd in _pidfds() if fd not in pidfds_before]
        proc.kill()
        rc = await proc.wait()
        return proc.pid, watched, new_pidfds, rc

    pid, watched, new_pidfds, rc = run(aloop, main())
    assert rc == -signal.SIGKILL
    if watcher == "pidfd":
        assert list(watched) == [pid]
        assert len(new_pidfds) == 1
    else:
        assert watched == {}
        assert new_pidfds == []
    assert aloop._children == {}
    assert aloop.stats()["children"] == 0


def test_echo_exit_codes_and_signals_with_either_watcher(aloop):
    payload = os.urandom(1024 * 1024)

    async def main():
        proc = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
        out, _ = await proc.communicate(payload)
        codes = [proc.returncode]
        for code in (3, 99):
            p = await asyncio.create_subprocess_exec("/bin/sh", "-c", f"exit {code}")
            codes.append(await p.wait())
        p = await asyncio.create_subprocess_exec("sleep", "30")
        p.terminate()
        codes.append(await p.wait())
        return out, codes

    out, codes = run(aloop, main())
    assert out == payload
    assert codes == [0, 3, 99, -signal.SIGTERM]


def test_many_children_with_either_watcher(aloop):
    async def one(i):
        p = await asyncio.create_subprocess_exec("/bin/sh", "-c", f"exit {i % 5}")
        return await p.wait()

    async def main():
        return await asyncio.gather(*(one(i) for i in range(60)))

    assert run(aloop, main()) == [i % 5 for i in range(60)]
    assert not zombies()


def test_popen_knows_the_status_the_loop_reaped(aloop):
    # The loop stores the status in the Popen object, so Popen.poll() never
    # calls waitpid() on a reaped (maybe reused) pid.
    async def main():
        proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", "exit 9")
        rc = await proc.wait()
        popen = proc._transport.get_extra_info("subprocess")
        return rc, popen.returncode, popen.poll()

    assert run(aloop, main()) == (9, 9, 9)


def test_returncode_and_wait_do_not_wait_for_a_grandchild_holding_the_pipe(aloop):
    # The shell exits at once; its background child keeps stdout open for a
    # while. The exit is known (returncode, wait()) long before the pipe
    # closes; process_exited() does not wait for it either (README: behaviour).
    async def main():
        proc = await asyncio.create_subprocess_exec(
            "/bin/sh", "-c", "sleep 3 & echo started", stdout=PIPE)
        assert await proc.stdout.readline() == b"started\n"
        t0 = aloop.time()
        rc = await asyncio.wait_for(proc.wait(), 2.5)
        waited = aloop.time() - t0
        rest = await proc.stdout.read()
        return rc, waited, rest

    rc, waited, rest = run(aloop, main())
    assert rc == 0
    assert waited < 2.5
    assert rest == b""


# --- children outliving loop.close() ------------------------------------------------


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_child_outliving_close_keeps_running_and_is_reaped(aloop):
    # Documented behaviour: close() does not kill a running child (asyncio
    # does not either); it can no longer report its exit, but it still reaps
    # it (an orphan reaper thread, or the fallback's own thread) and closes
    # its pidfd, so neither a zombie nor a descriptor is left.
    async def main():
        return await asyncio.create_subprocess_exec(
            sys.executable, "-c", "import time; time.sleep(0.5)",
            stdin=DEVNULL, stdout=DEVNULL, stderr=DEVNULL)

    proc = run(aloop, main())
    pid = proc.pid
    popen = proc._transport.get_extra_info("subprocess")
    aloop.close()
    os.kill(pid, 0)                         # still running after close()
    assert pid not in zombies()
    assert wait_until(lambda: popen.returncode is not None, timeout=10)
    assert popen.returncode == 0
    assert wait_until(lambda: pid not in zombies() and not _pidfds(), timeout=5)
    assert proc.returncode is None          # the loop could not report it
    proc._transport.close()                 # nothing left to kill


@pytest.mark.filterwarnings("ignore::ResourceWarning")
def test_transport_closed_after_loop_close_kills_and_reaps_child(aloop):
    async def main():
        return await asyncio.create_subprocess_exec(
            "sleep", "30", stdin=PIPE, stdout=PIPE, stderr=PIPE)

    proc = run(aloop, main())
    popen = proc._transport.get_extra_info("subprocess")
    aloop.close()
    # The pipe transports release their descriptors without a loop to run
    # connection_lost(); the child is killed and then reaped off the loop.
    proc._transport.close()
    assert wait_until(lambda: popen.returncode is not None, timeout=10)
    assert popen.returncode == -signal.SIGKILL


def test_no_process_wide_child_handler(aloop):
    async def main():
        proc = await asyncio.create_subprocess_exec("true")
        await proc.wait()

    run(aloop, main())
    assert signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL
    assert signal.set_wakeup_fd(-1) == -1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_policy_keeps_asyncio_child_watcher_api(aloop):
    # Code written for asyncio's Unix policy sets and gets a child watcher;
    # under aioloop's policy that works, and aioloop's own subprocesses do
    # not depend on it.
    if not hasattr(asyncio, "AbstractChildWatcher"):
        pytest.skip("no child watcher API on this Python")
    old_policy = asyncio.get_event_loop_policy()
    asyncio.set_event_loop_policy(aioloop.EventLoopPolicy())
    try:
        watcher = asyncio.get_child_watcher()
        assert isinstance(watcher, asyncio.AbstractChildWatcher)
        assert asyncio.get_child_watcher() is watcher
        safe = asyncio.SafeChildWatcher()
        safe.attach_loop(aloop)      # installs a SIGCHLD handler on our loop
        asyncio.set_child_watcher(safe)
        assert asyncio.get_child_watcher() is safe

        async def main():
            proc = await asyncio.create_subprocess_exec("/bin/sh", "-c", "exit 4")
            return await proc.wait()

        assert run(aloop, main()) == 4
    finally:
        asyncio.set_child_watcher(None)     # closes SafeChildWatcher: SIGCHLD restored
        asyncio.set_event_loop_policy(old_policy)
    assert signal.getsignal(signal.SIGCHLD) == signal.SIG_DFL
