"""Running a callback-style program under test."""

import threading

from aioloop import aio
from aioloop.aio import _life


def run_aio(start=None, *, threads=2, daemons=1, timeout=20.0, errors=None):
    """ainit, then start() as a task on thread 0 (if given), then amain
    until aexit; returns amain's status. A watchdog calls aexit("watchdog")
    after `timeout` seconds. `errors`, a list, collects the exception
    handler's contexts (else an exception in a callback fails the test)."""
    aio.ainit(threads, daemons)
    got = [] if errors is None else errors
    sched = _life.running_scheduler()
    sched.set_exception_handler(lambda loop, ctx: got.append(ctx))
    watchdog = threading.Timer(timeout, aio.aexit, ("watchdog",))
    watchdog.start()
    try:
        if start is not None:
            aio.sched(start, hint=0)
        status = aio.amain()
    finally:
        watchdog.cancel()
        watchdog.join()
    if errors is None:
        assert not got, got
    return status
