"""Cross-thread synchronisation: TaskBarrier, TaskLock, Queue and Event.

asyncio's Lock, Barrier, Queue and Event are bound to one loop; these work
from any dispatch thread, any loop and any plain thread, in both styles:
callback style (libaio's: a task, any callable, is scheduled when the
barrier trips or the lock is acquired) and asyncio style (awaitables that
resume the awaiter on its own loop).

Thread contract: each object's state (counts, flags, its FIFO of waiters) is
guarded by its own threading.Lock (a pthread mutex), taken for a few
statements that never call user code, never block and never allocate
objects the garbage collector tracks (futures are made before it is taken),
so no finalizer can run inside. Waking a waiter always happens after the
lock is released: a task is handed to its scheduler or loop
(``sched``/``call_soon_threadsafe``), an awaiter's future is resolved on the
awaiter's own loop through that loop's inbox. Nothing runs inline in the
stack of the thread that signals or unlocks.

Where a callback-style task runs: as ``sched(task, hint=hint)`` on the
scheduler that was current when the object was made; made on a plain loop,
on that loop; made outside any loop, on the scheduler or loop of the first
thread that hands it a task.
"""

import asyncio as _asyncio
import collections as _collections
import threading as _threading
import types as _types
from asyncio import events as _events

__all__ = ("TaskBarrier", "TaskLock", "Queue", "Event")

_get_running_loop = _events._get_running_loop


def _set_if_pending(fut, value):
    if not fut.done():
        fut.set_result(value)


def _wake(loop, fut, value, deliver=_set_if_pending):
    """Resolve `fut` (of `loop`) on its loop's thread. False if that loop is
    closed (the waiter is gone with it)."""
    if _get_running_loop() is loop:
        deliver(fut, value)
        return True
    try:
        loop.call_soon_threadsafe(deliver, fut, value)
    except RuntimeError:
        return False
    return True


class _Home:
    """Where callback-style tasks run (see the module doc)."""

    __slots__ = ("sched", "loop")

    def __init__(self):
        self.sched = None
        self.loop = None
        self.bind()

    def bind(self):
        if self.sched is not None or self.loop is not None:
            return
        loop = _get_running_loop()
        if loop is None:
            return
        self.sched = getattr(loop, "_aioloop_sched", None)
        if self.sched is None:
            self.loop = loop

    def check(self):
        self.bind()
        if self.sched is None and self.loop is None:
            raise RuntimeError(
                "no scheduler or loop to run the task on: make the object "
                "(or hand it its first task) on a running loop")

    def run(self, fn, args, hint):
        self.bind()
        if self.sched is not None:
            self.sched.sched(fn, *args, hint=hint)
        elif self.loop is not None:
            if _get_running_loop() is self.loop:
                self.loop.call_soon(fn, *args)
            else:
                self.loop.call_soon_threadsafe(fn, *args)
        else:
            raise RuntimeError(
                "no scheduler or loop to run the task on: make the object "
                "(or hand it its first task) on a running loop")


def _check_task(task, name="task"):
    if not callable(task):
        raise TypeError(f"{name} must be callable, got {task!r}")


def _check_hint(hint):
    if hint is not None and (isinstance(hint, bool) or not isinstance(hint, int)):
        raise TypeError(f"hint must be an int or None, got {type(hint).__name__}")


# --- TaskBarrier --------------------------------------------------------------

class TaskBarrier:
    """libaio's TaskBarrier.

    ``TaskBarrier(n, task=None)``: ordinary mode; after ``n`` calls of
    ``signal()`` the task is scheduled once and the barrier is spent.
    ``TaskBarrier(n, task, total=TaskBarrier.INFTY)``: threshold mode; the
    task is scheduled after every ``n`` calls of ``admit()``.
    ``TaskBarrier(n, task, total=tot)``: bounded threshold mode
    (``admit_bounded()``): scheduled after every ``n`` signals and at the
    ``tot``-th (once, even when ``tot`` is a multiple of ``n``), which spends
    it: ceil(tot/n) runs in all.

    ``await barrier.wait()`` resumes at the next trip and returns its number
    (at once on a spent barrier, with the last trip's); ``await
    barrier.arrive()`` signals and waits as one step."""

    INFTY = float("inf")

    def __init__(self, n, task=None, *, total=None, hint=None):
        if isinstance(n, bool) or not isinstance(n, int):
            raise TypeError(f"n must be an int, got {type(n).__name__}")
        if n <= 0:
            raise ValueError(f"n must be > 0, got {n}")
        if task is not None:
            _check_task(task)
        _check_hint(hint)
        if total is None:
            self._mode, total = "ordinary", n
        elif total == TaskBarrier.INFTY:
            if task is None:
                raise ValueError("a threshold barrier needs a task")
            self._mode = "threshold"
        else:
            if isinstance(total, bool) or not isinstance(total, int):
                raise TypeError(f"total must be an int or TaskBarrier.INFTY, "
                                f"got {type(total).__name__}")
            if total <= 0 or total < n:
                raise ValueError(f"total must be >= n > 0, got total={total}, n={n}")
            self._mode = "bounded"
        self._n = n
        self._total = total
        self._task = task
        self._hint = hint
        self._home = _Home()
        self._lock = _threading.Lock()
        self._count = 0
        self._trips = 0
        self._spent = False
        self._waiters = []          # (loop, future), woken at the next trip

    _SIGNAL = {"ordinary": "signal", "threshold": "admit", "bounded": "admit_bounded"}

    def __repr__(self):
        return (f"<aioloop.TaskBarrier {self._mode} n={self._n} "
                f"count={self._count} trips={self._trips}"
                f"{' spent' if self._spent else ''}>")

    @property
    def count(self):
        return self._count

    @property
    def trips(self):
        return self._trips

    @property
    def spent(self):
        return self._spent

    @property
    def mode(self):
        return self._mode

    def _signal_locked(self, method):
        # Lock held. Returns (tripped, trip number, waiters to wake).
        if method is not None and method != self._SIGNAL[self._mode]:
            raise ValueError(f"{method}() does not fit a {self._mode} barrier: "
                             f"use {self._SIGNAL[self._mode]}()")
        if self._spent:
            raise RuntimeError("the barrier is spent")
        self._count += 1
        c = self._count
        if self._mode == "ordinary":
            trip = c == self._n
            self._spent = trip
        elif self._mode == "threshold":
            trip = c % self._n == 0
        else:
            trip = c % self._n == 0 or c == self._total
            self._spent = c == self._total
        if not trip:
            return False, 0, ()
        self._trips += 1
        waiters, self._waiters = self._waiters, []
        return True, self._trips, waiters

    def _tripped(self, trip, waiters):
        if self._task is not None:
            self._home.run(self._task, (), self._hint)
        for loop, fut in waiters:
            _wake(loop, fut, trip)

    def _signal(self, method):
        if self._task is not None:
            self._home.check()      # before the count changes
        with self._lock:
            tripped, trip, waiters = self._signal_locked(method)
        if tripped:
            self._tripped(trip, waiters)

    def signal(self):
        """Count one signal (ordinary mode)."""
        self._signal("signal")

    def admit(self):
        """Count one signal (threshold mode)."""
        self._signal("admit")

    def admit_bounded(self):
        """Count one signal (bounded threshold mode)."""
        self._signal("admit_bounded")

    async def _await(self, loop, fut):
        try:
            return await fut
        except _asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove((loop, fut))
                except ValueError:
                    pass        # a trip took it already
            raise

    async def wait(self):
        """Wait for the next trip; returns its number. On a spent barrier,
        returns the last trip's number at once."""
        loop = _events.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            if self._spent:
                return self._trips
            self._waiters.append((loop, fut))
        return await self._await(loop, fut)

    async def arrive(self):
        """Signal (in the barrier's own mode) and wait for the trip, with no
        trip able to fall between the two; returns the trip's number."""
        if self._task is not None:
            self._home.check()
        loop = _events.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            if self._spent:
                raise RuntimeError("the barrier is spent")
            self._waiters.append((loop, fut))
            try:
                tripped, trip, waiters = self._signal_locked(None)
            except BaseException:
                self._waiters.remove((loop, fut))
                raise
        if tripped:
            self._tripped(trip, waiters)
        return await self._await(loop, fut)


# --- TaskLock -------------------------------------------------------------------

class TaskLock:
    """libaio's TaskLock: a FIFO lock for tasks and coroutines of any thread.

    Callback style: ``lock(task, *args)`` returns at once and schedules the
    task when the lock is its own; ``canlock()`` acquires without waiting;
    ``unlock()`` hands the lock to the next waiter in FIFO order. Asyncio
    style: ``async with lock:``, ``await lock.acquire()``, ``lock.release()``,
    in the same FIFO. The task that gets the lock is always scheduled, never
    run inline in the unlocker's stack (libaio allows inline on acquire; a
    scheduled task keeps an unlock cheap and its stack bounded however many
    waiters hand over in a row)."""

    def __init__(self, *, hint=None):
        _check_hint(hint)
        self._hint = hint
        self._home = _Home()
        self._mutex = _threading.Lock()
        self._locked = False
        # FIFO of waiters: [task, args, hint] for callback style,
        # (loop, future) for acquire().
        self._queue = _collections.deque()

    def __repr__(self):
        state = "locked" if self._locked else "unlocked"
        return f"<aioloop.TaskLock {state} waiters={len(self._queue)}>"

    def locked(self):
        return self._locked

    def lock(self, task, *args, hint=None):
        """Schedule task(*args) once the lock is acquired for it; the task
        must unlock() when done."""
        _check_task(task)
        _check_hint(hint)
        hint = self._hint if hint is None else hint
        self._home.check()
        entry = [task, args, hint]
        with self._mutex:
            if self._locked:
                self._queue.append(entry)
                return
            self._locked = True
        self._home.run(task, args, hint)

    def canlock(self, task=None, *args, hint=None):
        """Acquire without waiting: True on success (and task(*args), if
        given, is scheduled), False if the lock is held."""
        if task is not None:
            _check_task(task)
            self._home.check()
        _check_hint(hint)
        with self._mutex:
            if self._locked:
                return False
            self._locked = True
        if task is not None:
            self._home.run(task, args, self._hint if hint is None else hint)
        return True

    def unlock(self):
        """Hand the lock to the next waiter (FIFO), or free it."""
        while True:
            with self._mutex:
                if not self._locked:
                    raise RuntimeError("unlock() of an unlocked TaskLock")
                if not self._queue:
                    self._locked = False
                    return
                entry = self._queue.popleft()
            if isinstance(entry, list):
                self._home.run(entry[0], entry[1], entry[2])
                return
            loop, fut = entry
            if _wake(loop, fut, None, self._deliver):
                return
            # The waiter's loop is closed: hand it on to the next.

    release = unlock

    def _deliver(self, fut, _value):
        # On the waiter's loop: a waiter cancelled after the hand-off was
        # decided passes the lock on instead of losing it.
        if fut.done():
            self.unlock()
        else:
            fut.set_result(True)

    async def acquire(self):
        loop = _events.get_running_loop()
        fut = loop.create_future()
        entry = (loop, fut)
        with self._mutex:
            if not self._locked:
                self._locked = True
                return True
            self._queue.append(entry)
        try:
            await fut
        except _asyncio.CancelledError:
            with self._mutex:
                try:
                    self._queue.remove(entry)
                    removed = True
                except ValueError:
                    removed = False
            if not removed and fut.done() and not fut.cancelled():
                # The lock was handed over before the cancellation arrived.
                self.unlock()
            raise
        return True

    async def __aenter__(self):
        await self.acquire()

    async def __aexit__(self, *exc):
        self.unlock()


# --- Queue and Event ---------------------------------------------------------------

class Queue:
    """A FIFO queue for coroutines of any loop and for plain threads:
    ``await put()``/``await get()`` from any loop, ``put_nowait``/
    ``get_nowait`` from any thread, back-pressure with ``maxsize``,
    ``join``/``task_done`` as asyncio.Queue."""

    # Queue[int] in an annotation, as asyncio.Queue[int] (the stubs make it
    # generic in its items).
    __class_getitem__ = classmethod(_types.GenericAlias)

    def __init__(self, maxsize=0):
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError(f"maxsize must be an int, got {type(maxsize).__name__}")
        self._maxsize = maxsize
        self._lock = _threading.Lock()
        self._items = _collections.deque()
        self._getters = _collections.deque()    # (loop, future)
        self._putters = _collections.deque()
        self._joiners = []
        self._unfinished = 0

    def __repr__(self):
        return f"<aioloop.Queue maxsize={self._maxsize} qsize={len(self._items)}>"

    @property
    def maxsize(self):
        return self._maxsize

    def qsize(self):
        return len(self._items)

    def empty(self):
        return not self._items

    def full(self):
        return 0 < self._maxsize <= len(self._items)

    def _wake_one(self, waiters):
        # Lock held: take the first waiter still pending; woken after release.
        while waiters:
            loop, fut = waiters.popleft()
            if not fut.done():
                return loop, fut
        return None

    def put_nowait(self, item):
        with self._lock:
            if 0 < self._maxsize <= len(self._items):
                raise _asyncio.QueueFull
            self._items.append(item)
            self._unfinished += 1
            w = self._wake_one(self._getters)
        if w is not None:
            _wake(*w, None)

    def get_nowait(self):
        with self._lock:
            if not self._items:
                raise _asyncio.QueueEmpty
            item = self._items.popleft()
            w = self._wake_one(self._putters)
        if w is not None:
            _wake(*w, None)
        return item

    async def _wait_turn(self, waiters, ready):
        # Wait until ready() holds (checked under the lock); a woken waiter
        # that is cancelled passes its wake-up on, as asyncio.Queue does.
        loop = _events.get_running_loop()
        while True:
            fut = loop.create_future()
            with self._lock:
                if ready():
                    return
                waiters.append((loop, fut))
            try:
                await fut
            except _asyncio.CancelledError:
                with self._lock:
                    try:
                        waiters.remove((loop, fut))
                        w = None
                    except ValueError:
                        w = self._wake_one(waiters) if ready() else None
                if w is not None:
                    _wake(*w, None)
                raise

    async def put(self, item):
        while True:
            await self._wait_turn(self._putters, lambda: not self.full())
            try:
                return self.put_nowait(item)
            except _asyncio.QueueFull:
                continue        # another putter came first

    async def get(self):
        while True:
            await self._wait_turn(self._getters, lambda: bool(self._items))
            try:
                return self.get_nowait()
            except _asyncio.QueueEmpty:
                continue

    def task_done(self):
        with self._lock:
            if self._unfinished <= 0:
                raise ValueError("task_done() called too many times")
            self._unfinished -= 1
            joiners = self._joiners if self._unfinished == 0 else []
            if joiners:
                self._joiners = []
        for loop, fut in joiners:
            _wake(loop, fut, None)

    async def join(self):
        loop = _events.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            if self._unfinished == 0:
                return
            self._joiners.append((loop, fut))
        try:
            await fut
        except _asyncio.CancelledError:
            with self._lock:
                try:
                    self._joiners.remove((loop, fut))
                except ValueError:
                    pass
            raise


class Event:
    """An event for coroutines of any loop: ``set()``/``clear()`` from any
    thread, ``await event.wait()`` from any loop."""

    def __init__(self):
        self._lock = _threading.Lock()
        self._flag = False
        self._waiters = []

    def __repr__(self):
        return f"<aioloop.Event {'set' if self._flag else 'unset'} waiters={len(self._waiters)}>"

    def is_set(self):
        return self._flag

    def set(self):
        with self._lock:
            if self._flag:
                return
            self._flag = True
            waiters, self._waiters = self._waiters, []
        for loop, fut in waiters:
            _wake(loop, fut, True)

    def clear(self):
        with self._lock:
            self._flag = False

    async def wait(self):
        loop = _events.get_running_loop()
        fut = loop.create_future()
        with self._lock:
            if self._flag:
                return True
            self._waiters.append((loop, fut))
        try:
            return await fut
        except _asyncio.CancelledError:
            with self._lock:
                try:
                    self._waiters.remove((loop, fut))
                except ValueError:
                    pass
            raise
