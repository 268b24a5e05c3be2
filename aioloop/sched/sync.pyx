# Cross-thread synchronisation: TaskBarrier, TaskLock, Queue and Event.
#
# asyncio's Lock, Barrier, Queue and Event are bound to one loop; these work
# from any dispatch thread, any loop and any plain thread, in both styles:
# callback style (libaio's: a task, any callable, is scheduled when the
# barrier trips or the lock is acquired) and asyncio style (awaitables that
# resume the awaiter on its own loop). One implementation serves both: the
# waiters of either style sit in the same FIFO.
#
# Thread contract. Each object's state (counts, flags, its FIFOs of waiters
# and items, each waiter's `state`) is guarded by the object's own pthread
# mutex `mu`, never by the GIL. It is taken with the GIL held (or, free-
# threaded, with the thread attached) for a few C statements that never call
# into Python: no allocation of a Python object, no DECREF that could be the
# last one (references taken out of a FIFO are released after the unlock), so
# no finalizer or collection runs inside and no critical section can wait for
# another thread. The only exception is the home (below), written once.
#
# Waking. Nothing runs inline in the stack of the thread that signals, sets
# or unlocks: a callback-style task is handed to its scheduler or loop
# (sched / call_soon_threadsafe); an awaiter's future is resolved on the
# awaiter's own loop, through that loop's call_soon_threadsafe (directly when
# the waker is that loop's thread). A waiter is taken out of the FIFO and
# marked GRANTED under the mutex, then woken after the unlock.
#
# Cancellation. A cancelled awaiter still WAITING is marked GONE under the
# mutex, in O(1); GONE waiters are skipped (and released) when they reach
# the head, and the FIFO is compacted when they are more than half of it. A
# waiter cancelled after it was GRANTED gets what it was given and passes it
# on (TaskLock: the lock; Queue: the wake-up), so no hand-off is lost.
#
# Where a callback-style task runs: as sched(task, hint=hint) on the
# scheduler that was current when the object was made; made on a plain loop,
# on that loop; made outside any loop, on the scheduler or loop of the first
# thread that hands it a task (home_sched / home_loop, written once from None
# under `mu`, read under `mu`).
#
# The FIFOs hold references the garbage collector does not see: an object
# dropped while coroutines still wait on it keeps them (and what they reach)
# alive, as a thread blocked on a threading.Lock would.
#
# fork(): a child inherits the objects as they were, mutex included; using
# one there that another thread of the parent held at fork time deadlocks,
# as with threading.Lock. Make new ones in the child.

from cpython.object cimport PyObject
from cpython.ref cimport Py_INCREF, Py_DECREF
from libc.stdlib cimport malloc, free
from aioloop.includes.pthread cimport *

cdef object _CancelledError = _asyncio.CancelledError
cdef object _QueueFull = _asyncio.QueueFull
cdef object _QueueEmpty = _asyncio.QueueEmpty
cdef object _get_running_loop_py = _events._get_running_loop
cdef object _get_event_loop_running = _events.get_running_loop

cdef enum:
    _WAITING = 0
    _GRANTED = 1    # taken out of the FIFO by a waker; its wake-up is on its way
    _GONE = 2       # cancelled while queued; released when it reaches the head

cdef enum:
    _ORDINARY = 0
    _THRESHOLD = 1
    _BOUNDED = 2

cdef tuple _MODE_NAMES = ("ordinary", "threshold", "bounded")
cdef tuple _MODE_METHODS = ("signal", "admit", "admit_bounded")


# --- the FIFO ----------------------------------------------------------------------
# All of these run with the owner's mutex held (but _ring_release and
# _wake_taken, which run after the unlock) and never call into Python.

cdef inline void _ring_init(_Ring *r) noexcept nogil:
    r.items = NULL
    r.cap = 0
    r.head = 0
    r.count = 0


cdef int _ring_push(_Ring *r, PyObject *o) noexcept nogil:
    """Append o, taking the caller's reference. -1 if out of memory (nothing
    taken)."""
    cdef PyObject **grown
    cdef Py_ssize_t i, n
    if r.count == r.cap:
        n = r.cap * 2 if r.cap else 8
        grown = <PyObject **>malloc(n * sizeof(PyObject *))
        if grown == NULL:
            return -1
        for i in range(r.count):
            grown[i] = r.items[(r.head + i) % r.cap]
        free(r.items)
        r.items = grown
        r.cap = n
        r.head = 0
    r.items[(r.head + r.count) % r.cap] = o
    r.count += 1
    return 0


cdef inline PyObject *_ring_pop(_Ring *r) noexcept nogil:
    """Take the head (the reference goes to the caller), NULL if empty."""
    cdef PyObject *o
    if r.count == 0:
        return NULL
    o = r.items[r.head]
    r.head = (r.head + 1) % r.cap
    r.count -= 1
    return o


cdef inline int _state(PyObject *w) noexcept:
    # A cast, not a reference: no count changes under the mutex.
    return (<_Waiter>w).state


cdef inline void _set_state(PyObject *w, int state) noexcept:
    (<_Waiter>w).state = state


cdef PyObject *_ring_pop_live(_Ring *r, _Ring *garbage, Py_ssize_t *gone) noexcept:
    """Take the first WAITING waiter and mark it GRANTED; the GONE ones
    before it go to `garbage` (released after the unlock)."""
    cdef PyObject *w
    while True:
        w = _ring_pop(r)
        if w == NULL:
            return NULL
        if _state(w) == _WAITING:
            _set_state(w, _GRANTED)
            return w
        gone[0] -= 1
        if _ring_push(garbage, w) < 0:
            pass        # out of memory: this one waiter object leaks
    return NULL


cdef void _ring_take_all(_Ring *r, _Ring *out, Py_ssize_t *gone) noexcept:
    """Move every waiter to `out` (empty), marking the WAITING ones GRANTED."""
    cdef Py_ssize_t i
    cdef PyObject *w
    for i in range(r.count):
        w = r.items[(r.head + i) % r.cap]
        if _state(w) == _WAITING:
            _set_state(w, _GRANTED)
    out[0] = r[0]
    _ring_init(r)
    gone[0] = 0


cdef void _ring_compact(_Ring *r, _Ring *garbage, Py_ssize_t *gone) noexcept:
    """Drop the GONE waiters (to `garbage`) when they are more than half of
    the FIFO, so that waiters cancelled behind a stuck head do not pile up."""
    cdef Py_ssize_t i, kept = 0, n = r.count
    cdef PyObject *w
    if gone[0] < 16 or gone[0] * 2 < n:
        return
    for i in range(n):
        w = r.items[(r.head + i) % r.cap]
        if _state(w) == _GONE:
            if _ring_push(garbage, w) < 0:
                pass    # out of memory: leaks this one
        else:
            r.items[(r.head + kept) % r.cap] = w
            kept += 1
    r.count = kept
    gone[0] = 0


cdef void _ring_release(_Ring *r) noexcept:
    """After the unlock (or in a finalizer): release every reference."""
    cdef PyObject *o
    while True:
        o = _ring_pop(r)
        if o == NULL:
            break
        Py_DECREF(<object>o)
    free(r.items)
    _ring_init(r)


def _set_if_pending(fut, value):
    if not fut.done():
        fut.set_result(value)


cdef bint _wake(object loop, object fut, object value, object deliver) except -1:
    """Resolve `fut` (of `loop`) on its loop's thread with deliver(fut,
    value). False if that loop is closed (the waiter is gone with it)."""
    if _get_running_loop_py() is loop:
        deliver(fut, value)
        return True
    try:
        loop.call_soon_threadsafe(deliver, fut, value)
    except RuntimeError:
        return False
    return True


cdef int _wake_taken(_Ring *taken, object value) except -1:
    """After the unlock: wake every GRANTED awaiter of `taken`, release
    them all."""
    cdef PyObject *p
    cdef _Waiter w
    try:
        while True:
            p = _ring_pop(taken)
            if p == NULL:
                break
            w = <_Waiter>p
            Py_DECREF(w)        # the FIFO's reference; `w` holds its own
            if w.state == _GRANTED and w.fut is not None:
                _wake(w.loop, w.fut, value, _set_if_pending)
    finally:
        _ring_release(taken)
    return 0


cdef _Waiter _awaiter(object loop):
    cdef _Waiter w = _Waiter.__new__(_Waiter)
    w.loop = loop
    w.fut = loop.create_future()
    return w


@cython.final
cdef class _Done:
    """An awaitable that is already done, with None: the result of an
    `async with` step that did not have to wait. Stateless: one is shared."""

    def __await__(self):
        return self

    def __iter__(self):
        return self

    def __next__(self):
        raise StopIteration


cdef _Done _DONE = _Done()


cdef inline int _check_task(object task, str name="task") except -1:
    if not callable(task):
        raise TypeError(f"{name} must be callable, got {task!r}")
    return 0


cdef inline int _check_hint_arg(object hint) except -1:
    if hint is not None and (isinstance(hint, bool) or not isinstance(hint, int)):
        raise TypeError(f"hint must be an int or None, got {type(hint).__name__}")
    return 0


cdef inline void _lock(_Sync s) noexcept:
    pthread_mutex_lock(&s.mu)


cdef inline void _unlock(_Sync s) noexcept:
    pthread_mutex_unlock(&s.mu)


@cython.freelist(64)
cdef class _Waiter:
    pass


cdef class _Sync:
    def __cinit__(self, *args, **kwargs):
        if pthread_mutex_init(&self.mu, NULL) != 0:
            raise MemoryError()
        self.home_sched = None
        self.home_loop = None
        # Bound to the running loop's scheduler (or that loop), if any.
        self.bind_home()

    def __dealloc__(self):
        pthread_mutex_destroy(&self.mu)

    cdef int bind_home(self) except -1:
        if self.home_sched is not None or self.home_loop is not None:
            return 0
        loop = _get_running_loop_py()
        if loop is None:
            return 0
        sched = getattr(loop, "_aioloop_sched", None)
        _lock(self)
        # None -> object only, once: the DECREF of None is never the last.
        if self.home_sched is None and self.home_loop is None:
            if sched is not None:
                self.home_sched = sched
            else:
                self.home_loop = loop
        _unlock(self)
        return 0

    cdef int check_home(self) except -1:
        self.bind_home()
        _lock(self)
        ok = self.home_sched is not None or self.home_loop is not None
        _unlock(self)
        if not ok:
            raise RuntimeError(
                "no scheduler or loop to run the task on: make the object "
                "(or hand it its first task) on a running loop")
        return 0

    cdef int leave(self, _Waiter w, _Ring *ring, Py_ssize_t *gone) except -1:
        """On the awaiter's loop, after its cancellation: a waiter still
        queued in `ring` leaves it (marked GONE, the FIFO compacted when
        they pile up). Returns the state it had: GRANTED means a waker took
        it first, and its wake-up is on its way."""
        cdef int st
        cdef _Ring garbage
        _ring_init(&garbage)
        _lock(self)
        st = w.state
        if st == _WAITING:
            w.state = _GONE
            gone[0] += 1
            _ring_compact(ring, &garbage, gone)
        _unlock(self)
        _ring_release(&garbage)
        return st

    cdef int run_task(self, object fn, tuple args, object hint) except -1:
        self.bind_home()
        _lock(self)
        s = self.home_sched
        loop = self.home_loop
        _unlock(self)
        if s is not None:
            s.sched(fn, *args, hint=hint)
        elif loop is not None:
            if _get_running_loop_py() is loop:
                loop.call_soon(fn, *args)
            else:
                loop.call_soon_threadsafe(fn, *args)
        else:
            raise RuntimeError(
                "no scheduler or loop to run the task on: make the object "
                "(or hand it its first task) on a running loop")
        return 0


# --- TaskBarrier --------------------------------------------------------------

cdef class TaskBarrier(_Sync):
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
        _check_hint_arg(hint)
        if total is None:
            self._mode = _ORDINARY
            self._total = n
        elif isinstance(total, float) and total == float("inf"):
            if task is None:
                raise ValueError("a threshold barrier needs a task")
            self._mode = _THRESHOLD
            self._total = -1
        else:
            if isinstance(total, bool) or not isinstance(total, int):
                raise TypeError(f"total must be an int or TaskBarrier.INFTY, "
                                f"got {type(total).__name__}")
            if total <= 0 or total < n:
                raise ValueError(f"total must be >= n > 0, got total={total}, n={n}")
            self._mode = _BOUNDED
            self._total = total
        self._n = n
        self._task = task
        self._hint = hint

    def __dealloc__(self):
        _ring_release(&self._waiters)

    def __repr__(self):
        return (f"<aioloop.TaskBarrier {self.mode} n={self._n} "
                f"count={self.count} trips={self.trips}"
                f"{' spent' if self.spent else ''}>")

    @property
    def count(self):
        """Signals counted so far."""
        _lock(self)
        c = self._count
        _unlock(self)
        return c

    @property
    def trips(self):
        """Trips so far."""
        _lock(self)
        t = self._trips
        _unlock(self)
        return t

    @property
    def spent(self):
        _lock(self)
        s = self._spent
        _unlock(self)
        return s

    @property
    def n_waiting(self):
        """Awaiters waiting for the next trip (asyncio.Barrier's name)."""
        _lock(self)
        n = self._waiters.count - self._gone
        _unlock(self)
        return n

    @property
    def mode(self):
        """'ordinary', 'threshold' or 'bounded'."""
        return _MODE_NAMES[self._mode]

    cdef int _signal(self, int method, _Waiter also) except -1:
        # method: the mode the caller's method is for, or -1 (arrive: any).
        # `also`: an awaiter queued in the same critical section, or None.
        cdef int err = 0
        cdef bint trip = False
        cdef Py_ssize_t c, trip_no = 0
        cdef _Ring taken
        _ring_init(&taken)
        if self._task is not None:
            self.check_home()       # before the count changes
        _lock(self)
        if method >= 0 and method != self._mode:
            err = 1
        elif self._spent:
            err = 2
        elif also is not None and _ring_push(&self._waiters, <PyObject *>also) < 0:
            err = 3
        else:
            if also is not None:
                Py_INCREF(also)     # the FIFO's reference
            self._count += 1
            c = self._count
            if self._mode == _ORDINARY:
                trip = c == self._n
                self._spent = trip
            elif self._mode == _THRESHOLD:
                trip = c % self._n == 0
            else:
                trip = c % self._n == 0 or c == self._total
                self._spent = c == self._total
            if trip:
                self._trips += 1
                trip_no = self._trips
                _ring_take_all(&self._waiters, &taken, &self._gone)
        _unlock(self)
        if err == 1:
            raise ValueError(f"{_MODE_METHODS[method]}() does not fit a "
                             f"{_MODE_NAMES[self._mode]} barrier: use "
                             f"{_MODE_METHODS[self._mode]}()")
        if err == 2:
            raise RuntimeError("the barrier is spent")
        if err == 3:
            raise MemoryError()
        if trip:
            try:
                if self._task is not None:
                    self.run_task(self._task, (), self._hint)
            finally:
                _wake_taken(&taken, trip_no)
        return 0

    def signal(self):
        """Count one signal (ordinary mode)."""
        self._signal(_ORDINARY, None)

    def admit(self):
        """Count one signal (threshold mode)."""
        self._signal(_THRESHOLD, None)

    def admit_bounded(self):
        """Count one signal (bounded threshold mode)."""
        self._signal(_BOUNDED, None)

    async def wait(self):
        """Wait for the next trip; returns its number. On a spent barrier,
        returns the last trip's number at once."""
        cdef _Waiter w = _awaiter(_get_event_loop_running())
        cdef bint queued = False
        cdef Py_ssize_t trips = 0
        _lock(self)
        if self._spent:
            trips = self._trips
        elif _ring_push(&self._waiters, <PyObject *>w) == 0:
            Py_INCREF(w)
            queued = True
        else:
            trips = -1
        _unlock(self)
        if not queued:
            if trips < 0:
                raise MemoryError()
            return trips
        try:
            return await w.fut
        except _CancelledError:
            self.leave(w, &self._waiters, &self._gone)
            raise

    async def arrive(self):
        """Signal (in the barrier's own mode) and wait for the trip, with no
        trip able to fall between the two; returns the trip's number."""
        cdef _Waiter w = _awaiter(_get_event_loop_running())
        self._signal(-1, w)
        try:
            return await w.fut
        except _CancelledError:
            self.leave(w, &self._waiters, &self._gone)
            raise


# --- TaskLock -------------------------------------------------------------------

cdef class TaskLock(_Sync):
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
        _check_hint_arg(hint)
        self._hint = hint

    def __dealloc__(self):
        _ring_release(&self._queue)

    def __repr__(self):
        _lock(self)
        state = "locked" if self._locked else "unlocked"
        n = self._queue.count - self._gone
        _unlock(self)
        return f"<aioloop.TaskLock {state} waiters={n}>"

    @property
    def n_waiting(self):
        """Waiters queued for the lock, of both styles."""
        _lock(self)
        n = self._queue.count - self._gone
        _unlock(self)
        return n

    def locked(self):
        _lock(self)
        v = self._locked
        _unlock(self)
        return v

    def lock(self, task, *args, hint=None):
        """Schedule task(*args) once the lock is acquired for it; the task
        must unlock() when done."""
        cdef _Waiter w
        cdef int err = 0
        cdef bint mine = False
        _check_task(task)
        _check_hint_arg(hint)
        if hint is None:
            hint = self._hint
        self.check_home()
        w = _Waiter.__new__(_Waiter)
        w.task = task
        w.args = args
        w.hint = hint
        _lock(self)
        if not self._locked:
            self._locked = True
            mine = True
        elif _ring_push(&self._queue, <PyObject *>w) == 0:
            Py_INCREF(w)
        else:
            err = 1
        _unlock(self)
        if err:
            raise MemoryError()
        if mine:
            self._grant_task(w)

    cdef int _grant_task(self, _Waiter w) except -1:
        # The lock is w's: schedule its task. If it cannot be (its scheduler
        # is closed), the lock goes on to the next waiter before the error
        # reaches the caller.
        try:
            self.run_task(w.task, w.args, w.hint)
        except BaseException:
            self.unlock()
            raise
        return 0

    def canlock(self, task=None, *args, hint=None):
        """Acquire without waiting: True on success (and task(*args), if
        given, is scheduled), False if the lock is held."""
        cdef _Waiter w
        if task is not None:
            _check_task(task)
            self.check_home()
        _check_hint_arg(hint)
        _lock(self)
        if self._locked:
            _unlock(self)
            return False
        self._locked = True
        _unlock(self)
        if task is not None:
            w = _Waiter.__new__(_Waiter)
            w.task = task
            w.args = args
            w.hint = self._hint if hint is None else hint
            self._grant_task(w)
        return True

    def unlock(self):
        """Hand the lock to the next waiter (FIFO), or free it."""
        cdef PyObject *p
        cdef _Waiter w
        cdef bint held
        cdef _Ring garbage
        while True:
            _ring_init(&garbage)
            _lock(self)
            held = self._locked
            p = NULL
            if held:
                p = _ring_pop_live(&self._queue, &garbage, &self._gone)
                if p == NULL:
                    self._locked = False
            _unlock(self)
            _ring_release(&garbage)
            if not held:
                raise RuntimeError("unlock() of an unlocked TaskLock")
            if p == NULL:
                return
            w = <_Waiter>p
            Py_DECREF(w)        # the FIFO's reference; `w` holds its own
            if w.fut is None:
                self._grant_task(w)
                return
            if _wake(w.loop, w.fut, None, self._deliver):
                return
            # The waiter's loop is closed: hand the lock on to the next.

    def release(self):
        """unlock(), under asyncio.Lock's name."""
        self.unlock()

    def _deliver(self, fut, _value):
        # On the waiter's loop: a waiter cancelled after the hand-off was
        # decided passes the lock on instead of losing it.
        if fut.done():
            self.unlock()
        else:
            fut.set_result(True)

    async def acquire(self):
        """Wait for the lock (FIFO with every other waiter); returns True."""
        cdef _Waiter w
        cdef int st
        cdef int err = 0
        _lock(self)
        if not self._locked:
            self._locked = True
            _unlock(self)
            return True
        _unlock(self)
        w = _awaiter(_get_event_loop_running())
        _lock(self)
        if not self._locked:
            self._locked = True
            _unlock(self)
            return True
        if _ring_push(&self._queue, <PyObject *>w) == 0:
            Py_INCREF(w)
        else:
            err = 1
        _unlock(self)
        if err:
            raise MemoryError()
        try:
            await w.fut
        except _CancelledError:
            st = self.leave(w, &self._queue, &self._gone)
            if st == _GRANTED and w.fut.done() and not w.fut.cancelled():
                # The lock was handed over before the cancellation arrived.
                self.unlock()
            raise
        return True

    async def _acquire_none(self):
        await self.acquire()

    def __aenter__(self):
        # Uncontended, no coroutine is made: `async with` costs one try-lock.
        _lock(self)
        if not self._locked:
            self._locked = True
            _unlock(self)
            return _DONE
        _unlock(self)
        return self._acquire_none()

    def __aexit__(self, *exc):
        self.unlock()
        return _DONE


# --- Queue and Event ---------------------------------------------------------------

cdef enum:
    _GETTERS = 0
    _PUTTERS = 1


cdef class Queue(_Sync):
    """A FIFO queue for coroutines of any loop and for plain threads:
    ``await put()``/``await get()`` from any loop, ``put_nowait``/
    ``get_nowait`` from any thread, back-pressure with ``maxsize``,
    ``join``/``task_done`` as asyncio.Queue."""

    def __init__(self, maxsize=0):
        if isinstance(maxsize, bool) or not isinstance(maxsize, int):
            raise TypeError(f"maxsize must be an int, got {type(maxsize).__name__}")
        self._maxsize = maxsize

    # Queue[int] in an annotation, as asyncio.Queue[int].
    @classmethod
    def __class_getitem__(cls, item):
        return _types.GenericAlias(cls, item)

    def __dealloc__(self):
        _ring_release(&self._items)
        _ring_release(&self._getters)
        _ring_release(&self._putters)
        _ring_release(&self._joiners)

    def __repr__(self):
        return f"<aioloop.Queue maxsize={self._maxsize} qsize={self.qsize()}>"

    @property
    def maxsize(self):
        return self._maxsize

    def _n_waiting(self):
        """(getters, putters) waiting: for tests."""
        _lock(self)
        n = (self._getters.count - self._ggone, self._putters.count - self._pgone)
        _unlock(self)
        return n

    def qsize(self):
        _lock(self)
        n = self._items.count
        _unlock(self)
        return n

    def empty(self):
        return self.qsize() == 0

    def full(self):
        _lock(self)
        f = 0 < self._maxsize <= self._items.count
        _unlock(self)
        return f

    cdef bint _ready(self, int kind) noexcept:
        # Mutex held.
        if kind == _GETTERS:
            return self._items.count > 0
        return not (0 < self._maxsize <= self._items.count)

    cdef int _wake_one(self, PyObject *p) except -1:
        cdef _Waiter w
        if p == NULL:
            return 0
        w = <_Waiter>p
        Py_DECREF(w)
        _wake(w.loop, w.fut, None, _set_if_pending)
        return 0

    def put_nowait(self, item):
        cdef PyObject *p = NULL
        cdef int err = 0
        cdef _Ring garbage
        _ring_init(&garbage)
        _lock(self)
        if 0 < self._maxsize <= self._items.count:
            err = 1
        elif _ring_push(&self._items, <PyObject *>item) < 0:
            err = 2
        else:
            Py_INCREF(item)
            self._unfinished += 1
            p = _ring_pop_live(&self._getters, &garbage, &self._ggone)
        _unlock(self)
        _ring_release(&garbage)
        if err == 1:
            raise _QueueFull
        if err == 2:
            raise MemoryError()
        self._wake_one(p)

    def get_nowait(self):
        cdef PyObject *item
        cdef PyObject *p = NULL
        cdef _Ring garbage
        _ring_init(&garbage)
        _lock(self)
        item = _ring_pop(&self._items)
        if item != NULL:
            p = _ring_pop_live(&self._putters, &garbage, &self._pgone)
        _unlock(self)
        _ring_release(&garbage)
        if item == NULL:
            raise _QueueEmpty
        result = <object>item
        Py_DECREF(result)       # the FIFO's reference, now `result`'s
        self._wake_one(p)
        return result

    async def _wait_turn(self, int kind):
        # Wait until the queue has an item (getters) or room (putters); a
        # woken waiter that is cancelled passes its wake-up on, as
        # asyncio.Queue does.
        cdef _Waiter w
        cdef _Ring *ring
        cdef Py_ssize_t *gone
        cdef PyObject *p
        cdef int err
        cdef _Ring garbage
        loop = _get_event_loop_running()
        if kind == _GETTERS:
            ring = &self._getters
            gone = &self._ggone
        else:
            ring = &self._putters
            gone = &self._pgone
        while True:
            _lock(self)
            ready = self._ready(kind)
            _unlock(self)
            if ready:
                return
            w = _awaiter(loop)
            err = 0
            _lock(self)
            if self._ready(kind):
                err = -1
            elif _ring_push(ring, <PyObject *>w) == 0:
                Py_INCREF(w)
            else:
                err = 1
            _unlock(self)
            if err == -1:
                return
            if err:
                raise MemoryError()
            try:
                await w.fut
            except _CancelledError:
                _ring_init(&garbage)
                p = NULL
                _lock(self)
                if w.state == _WAITING:
                    w.state = _GONE
                    gone[0] += 1
                    _ring_compact(ring, &garbage, gone)
                elif self._ready(kind):
                    p = _ring_pop_live(ring, &garbage, gone)
                _unlock(self)
                _ring_release(&garbage)
                self._wake_one(p)
                raise

    async def put(self, item):
        while True:
            await self._wait_turn(_PUTTERS)
            try:
                return self.put_nowait(item)
            except _QueueFull:
                continue        # another putter came first

    async def get(self):
        while True:
            await self._wait_turn(_GETTERS)
            try:
                return self.get_nowait()
            except _QueueEmpty:
                continue

    def task_done(self):
        cdef int err = 0
        cdef _Ring taken
        _ring_init(&taken)
        _lock(self)
        if self._unfinished <= 0:
            err = 1
        else:
            self._unfinished -= 1
            if self._unfinished == 0:
                _ring_take_all(&self._joiners, &taken, &self._jgone)
        _unlock(self)
        if err:
            raise ValueError("task_done() called too many times")
        _wake_taken(&taken, None)

    async def join(self):
        cdef _Waiter w
        cdef int err = 0
        _lock(self)
        done = self._unfinished == 0
        _unlock(self)
        if done:
            return
        w = _awaiter(_get_event_loop_running())
        _lock(self)
        if self._unfinished == 0:
            err = -1
        elif _ring_push(&self._joiners, <PyObject *>w) == 0:
            Py_INCREF(w)
        else:
            err = 1
        _unlock(self)
        if err == -1:
            return
        if err:
            raise MemoryError()
        try:
            await w.fut
        except _CancelledError:
            self.leave(w, &self._joiners, &self._jgone)
            raise


cdef class Event(_Sync):
    """An event for coroutines of any loop: ``set()``/``clear()`` from any
    thread, ``await event.wait()`` from any loop."""

    def __dealloc__(self):
        _ring_release(&self._waiters)

    def __repr__(self):
        _lock(self)
        s = "set" if self._flag else "unset"
        n = self._waiters.count - self._gone
        _unlock(self)
        return f"<aioloop.Event {s} waiters={n}>"

    @property
    def n_waiting(self):
        """Awaiters waiting for set()."""
        _lock(self)
        n = self._waiters.count - self._gone
        _unlock(self)
        return n

    def is_set(self):
        _lock(self)
        v = self._flag
        _unlock(self)
        return v

    def set(self):
        cdef _Ring taken
        _ring_init(&taken)
        _lock(self)
        if not self._flag:
            self._flag = True
            _ring_take_all(&self._waiters, &taken, &self._gone)
        _unlock(self)
        _wake_taken(&taken, True)

    def clear(self):
        _lock(self)
        self._flag = False
        _unlock(self)

    async def wait(self):
        cdef _Waiter w
        cdef int err = 0
        _lock(self)
        v = self._flag
        _unlock(self)
        if v:
            return True
        w = _awaiter(_get_event_loop_running())
        _lock(self)
        if self._flag:
            err = -1
        elif _ring_push(&self._waiters, <PyObject *>w) == 0:
            Py_INCREF(w)
        else:
            err = 1
        _unlock(self)
        if err == -1:
            return True
        if err:
            raise MemoryError()
        try:
            return await w.fut
        except _CancelledError:
            self.leave(w, &self._waiters, &self._gone)
            raise
