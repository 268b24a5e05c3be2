"""What every callback-style name shares: the per-Scheduler state, the
"is aio open" check, the choice of a loop, and argument checks.

One ``AioState`` per Scheduler that ``ainit`` made, kept on the Scheduler
(a new ``ainit`` after ``amain`` returned starts from a clean state).

Thread contract of AioState: ``lock`` (a threading.Lock) guards ``fds``
(the one-shot I/O table, aio/_io.py, including every field of its
entries but ``installed``), ``timers`` (aio/_timers.py, including every
field of a timer but ``handle`` and ``offset``, which its loop's thread
writes; ``watches``), and the
counters ``ntod``, ``noneshot``, ``ninterval``, ``oneshot_fired``,
``interval_ticks``, ``interval_missed``. It is held for a few statements
and never while user code or a loop method that may call user code runs.
``sched`` and ``loops`` are immutable. ``_states_lock`` guards the
creation of a Scheduler's AioState.
"""

import math as _math
import threading as _threading
from asyncio import events as _events

from . import _life

_get_running_loop = _events._get_running_loop
_states_lock = _threading.Lock()


class AioState:
    __slots__ = ("lock", "sched", "loops", "fds", "timers", "watches", "ntod",
                 "noneshot", "ninterval", "oneshot_fired", "interval_ticks",
                 "interval_missed")

    def __init__(self, sched):
        self.lock = _threading.Lock()
        self.sched = sched
        self.loops = sched.loops
        self.fds = {}           # fd -> aio._io.FdEntry
        self.timers = set()     # aio._timers.Timer, armed ones only
        self.watches = {}       # loop -> aio._timers.ClockWatch
        self.ntod = 0           # time-of-day reads outside the loops' passes
        self.noneshot = 0
        self.ninterval = 0
        self.oneshot_fired = 0
        self.interval_ticks = 0
        self.interval_missed = 0

    def current_loop(self):
        """This thread's dispatch loop, or None (a plain thread, or a loop
        of another Scheduler)."""
        loop = _get_running_loop()
        if loop is not None and getattr(loop, "_aioloop_sched", None) is self.sched:
            return loop
        return None

    def home_loop(self, hint):
        """The loop work lands on when no fd or timer says otherwise: the
        loop of ``hint`` (``hint % threads``) if given, else this dispatch
        thread's loop, else (a plain thread) loop 0."""
        if hint is not None:
            return self.loops[hint % len(self.loops)]
        return self.current_loop() or self.loops[0]


def require_open(op=None):
    """The Scheduler of aio; RuntimeError before ainit(), after aexit() or
    once amain() has returned."""
    return _life.require_open(op)


def state():
    """The AioState of the open aio Scheduler (RuntimeError as
    require_open())."""
    sched = require_open()
    st = sched.__dict__.get("_aio_state")
    if st is not None:
        return st
    with _states_lock:
        st = sched.__dict__.get("_aio_state")
        if st is None:
            st = AioState(sched)
            sched._aio_state = st
            created = True
        else:
            created = False
    if created:
        _enable_wall_clock(st)
    return st


def _enable_wall_clock(st):
    # aio.now(): each loop reads the time of day once per pass from now on.
    # Only a loop's own thread writes that switch.
    cur = st.current_loop()
    for loop in st.loops:
        if loop is cur:
            loop._set_wall_clock_cache(True)
        else:
            try:
                loop.call_soon_threadsafe(loop._set_wall_clock_cache, True)
            except RuntimeError:
                pass        # closed: aio.now() falls back to time.time()


def post(loop, fn, *args):
    """Run fn(*args) on `loop`'s thread: now if this is that thread, else
    through its inbox. RuntimeError if the loop is closed."""
    if _get_running_loop() is loop:
        fn(*args)
    else:
        loop.call_soon_threadsafe(fn, *args)


# --- argument checks -----------------------------------------------------------

def check_callable(name, fn):
    if not callable(fn):
        raise TypeError(f"{name} must be callable, got {type(fn).__name__}")


def check_fd(fd):
    if isinstance(fd, bool) or not isinstance(fd, int):
        raise TypeError(f"fd must be an int (a file descriptor), got {type(fd).__name__}")
    if fd < 0:
        raise ValueError(f"fd must be >= 0, got {fd}")


def check_hint(hint):
    if hint is not None and (isinstance(hint, bool) or not isinstance(hint, int)):
        raise TypeError(f"hint must be an int or None, got {type(hint).__name__}")


def check_time(name, value):
    """A number of seconds (int or float, finite); returns it as a float."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number of seconds (int or float), "
                        f"got {type(value).__name__}")
    value = float(value)
    if not _math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value
