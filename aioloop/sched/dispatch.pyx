# Dispatch threads' share of the run cycle: how unhinted work reaches a loop,
# how an idle loop steals, and when a sleeping loop is woken.
#
# Rules (the Scheduler's contract; scheduler.py states them for users):
#   - Unhinted work submitted on dispatch thread i goes to RunQueue i; from
#     any other thread, to the least-loaded thread's RunQueue (its queue
#     length plus what its loop published as ready), and that thread is
#     kicked if it sleeps. Hinted work never comes here: it goes to its
#     loop's inbox (pinned, never stolen).
#   - Each pass of loop i moves at most _TAKE_BATCH items of RunQueue i into
#     its ready queue, after the inbox's bounded batch: a long queue never
#     starves I/O, timers or the inbox (they are served every pass). With N
#     threads it takes only 1/N of its queue per pass (at least one), since
#     what it moved can no longer be stolen.
#   - A loop about to sleep (nothing ready, no timer due) steals half of the
#     longest sibling queue into its own queue. Work that started (an asyncio
#     Task) never moves: only SchedHandles not yet taken are in the queues.
#   - Wake-ups: after a local push, or while a pass leaves work in its
#     queue, one sleeping sibling is woken to steal, and only if no thread
#     is already searching (nsearching == 0, claimed by CAS). A burst costs
#     one eventfd write per woken thread.
#   - No lost wake-up: a loop stores `sleeping` (prepare_sleep, seq_cst),
#     then has_work() loads every queue's count (seq_cst); a producer stores
#     the count under the queue lock (seq_cst), then loads (and, set, takes)
#     `sleeping` in kick(). One of the two sees the other's store.
#
# Submission (Scheduler.sched and spawn, the module's sched()) is one C call,
# SchedCore.sched(): check the arguments, count the submission in `inflight`,
# find the calling dispatch thread (the loop this thread runs, by thread id,
# without asking asyncio for the running loop) and queue the work.

from cpython.ref cimport Py_DECREF
from cpython.long cimport PyLong_AsLongLongAndOverflow
from aioloop.includes.atomics cimport *

cdef str _SCHED_FORKED_MSG = (
    "this Scheduler belongs to the parent process (inherited across "
    "fork()); a child process must make its own Scheduler")
cdef object _get_running_loop = _events._get_running_loop


cdef inline int _check_hint(object hint) except -1:
    if hint is not None and (isinstance(hint, bool) or not isinstance(hint, int)):
        raise TypeError(f"hint must be an int or None, got {type(hint).__name__}")
    return 0

cdef enum:
    _TAKE_BATCH = 128       # own-queue items moved into ready per pass
    _STEAL_MAX = 1024       # items one steal may move
    _RUNQ_BACKLOG = 4096    # queued items past which outside producers yield


cdef class DispatchHook(CycleHook):
    def __cinit__(self, SchedCore core, int index, RunQueue q, LoopRemote remote):
        self.core = core
        self.index = index
        self.q = q
        self.remote = remote
        self.search_token = 0

    cdef int _adopt(self, PyObject **items, Py_ssize_t n) except -1:
        # Move owned references into the ready queue (push takes its own).
        cdef Py_ssize_t i = 0
        try:
            while i < n:
                self.remote.push_ready(<Handle>items[i])
                Py_DECREF(<object>items[i])
                i += 1
        finally:
            while i < n:        # only after a MemoryError from push_ready
                _gc_release(items[i])
                i += 1
        return 0

    cdef Py_ssize_t _steal(self) except -1:
        cdef PyObject *tmp[_STEAL_MAX]
        cdef RunQueue victim = None, other
        cdef Py_ssize_t best = 0, size, k
        cdef int j
        self.n_steal_attempts += 1
        for j in range(self.core.n):
            if j == self.index:
                continue
            other = <RunQueue>self.core.queues[j]
            size = other.size()
            if size > best:
                best = size
                victim = other
        if victim is None:
            return 0
        k = victim.take_half(tmp, _STEAL_MAX)
        if k == 0:
            return 0
        try:
            self.q.put_many(tmp, k)
        except MemoryError:
            # Run them here instead (still this loop's thread).
            self._adopt(tmp, k)
        self.n_stolen += k
        if victim.size() > 1:
            # More left than this thread took: let one more sibling look.
            self.core.notify_one(self.index)
        return k

    cdef Py_ssize_t after_poll(self) except -1:
        cdef PyObject *tmp[_TAKE_BATCH]
        cdef Py_ssize_t n
        # A load first: the exchange is a locked instruction on every pass,
        # while a token is rare. A seq_cst load that sees 0 reads what the
        # exchange would have read, at the same place in the total order.
        if aio_load_seq(&self.search_token) and aio_exchange_seq(&self.search_token, 0):
            # Woken to steal: this thread's share of nsearching ends here.
            try:
                if self.q.size() == 0 and not aio_load_seq(&self.core.closed):
                    self._steal()
            finally:
                aio_fetch_add(&self.core.nsearching, -1)
        # Work moved into the ready queue can no longer be stolen: with
        # siblings, take only this thread's share of what is queued (at
        # least one), so that a burst is spread before it is started.
        n = self.q.size()
        if n == 0:
            return 0
        if self.core.n > 1:
            n = (n + self.core.n - 1) // self.core.n
        if n > _TAKE_BATCH:
            n = _TAKE_BATCH
        n = self.q.take(tmp, n)
        if n:
            self.n_taken += n
            self._adopt(tmp, n)
            if self.q.size() > 1:
                self.core.notify_one(self.index)
        return n

    cdef bint has_work(self) noexcept:
        if aio_load_ssize(&self.q.count):
            return True
        if aio_load_seq(&self.core.closed):
            return False
        return self.core.any_queued()

    cdef Py_ssize_t before_sleep(self) except -1:
        cdef Py_ssize_t k
        if self.q.size():
            return 1
        if aio_load_seq(&self.core.closed):
            return 0
        if not self.core.any_queued():
            # Nothing to steal (the common case: siblings idle, or one loop
            # doing all the work): skip the search and its two locked
            # updates of the shared nsearching. Work queued from now on is
            # seen by has_work() after prepare_sleep(), or its producer
            # wakes this loop, as after a search that found nothing.
            return 0
        aio_fetch_add(&self.core.nsearching, 1)
        try:
            k = self._steal()
        finally:
            aio_fetch_add(&self.core.nsearching, -1)
        return k

    cdef void after_sleep(self) noexcept:
        self.n_sleeps += 1


cdef class SchedCore:
    def __cinit__(self, int n, Py_ssize_t bound=0):
        if n < 1:
            raise ValueError(f'threads must be >= 1, got {n}')
        if bound < 0:
            raise ValueError(f'max_pending must be >= 0, got {bound}')
        self.n = n
        self.bound = bound
        self.hooks = [None] * n
        self.queues = [RunQueue(bound) for _ in range(n)]
        self.counts = <Py_ssize_t **>malloc(n * sizeof(Py_ssize_t *))
        if self.counts == NULL:
            raise MemoryError()
        cdef int j
        for j in range(n):
            self.counts[j] = &(<RunQueue>self.queues[j]).count
        self.remotes = [None] * n
        self.nsearching = 0
        self.closed = 0
        self.inflight = 0
        self.fork_gen = _fork_generation

    def __dealloc__(self):
        free(self.counts)

    cdef bint any_queued(self) noexcept:
        """Whether any run queue holds work (seq_cst loads: has_work()'s
        side of the no-lost-wake-up handshake)."""
        cdef int j
        for j in range(self.n):
            if aio_load_ssize(self.counts[j]):
                return True
        return False

    def attach(self, loop, int index):
        """Give loop `index` its hook (before the loop runs)."""
        if not 0 <= index < self.n:
            raise ValueError(f'index out of range: {index}')
        cdef LoopRemote remote = (<EventLoopCore?>loop).remote()
        cdef DispatchHook hook = DispatchHook(self, index, self.queues[index], remote)
        remote.set_hook(hook)
        (<EventLoopCore>loop)._set_strict_thread(True)
        self.hooks[index] = hook
        self.remotes[index] = remote

    cdef int least_loaded(self) noexcept:
        cdef int j, best = 0
        cdef Py_ssize_t load, best_load = -1
        for j in range(self.n):
            load = ((<RunQueue>self.queues[j]).size() +
                    (<LoopRemote>self.remotes[j]).load())
            if best_load < 0 or load < best_load:
                best_load = load
                best = j
        return best

    cdef int notify_one(self, int from_index) except -1:
        cdef int j, k
        cdef DispatchHook hook
        if aio_load_seq(&self.nsearching) != 0:
            return 0
        for k in range(1, self.n):
            j = (from_index + k) % self.n
            if not (<LoopRemote>self.remotes[j]).is_sleeping():
                continue
            if not aio_cas(&self.nsearching, 0, 1):
                return 0            # someone else started searching
            hook = <DispatchHook>self.hooks[j]
            if aio_exchange_seq(&hook.search_token, 1):
                # Already held a token (its count is in nsearching): undo ours.
                aio_fetch_add(&self.nsearching, -1)
            hook.remote.kick()
            return 1
        return 0

    cdef int caller_index(self) noexcept:
        """The index of the dispatch thread calling (the one whose loop this
        thread runs), or -1 for any other thread."""
        cdef unsigned long me = PyThread_get_thread_ident()
        cdef int j
        for j in range(self.n):
            if (<LoopRemote>self.remotes[j]).runs_on(me):
                return j
        return -1

    cdef Handle sched(self, object fn, tuple args, object hint, object context,
                      int caller):
        """Run fn(*args) on dispatch thread `hint` % n, or unhinted; any
        thread. `caller`: the submitting dispatch thread's index when the
        caller knows it, else -2 (found here if needed)."""
        cdef long long h
        cdef int target, overflow = 0
        _check_hint(hint)
        if not PyCallable_Check(fn):
            raise TypeError(f"sched() needs a callable, got {fn!r}")
        if self.fork_gen != _fork_generation:
            raise RuntimeError(_SCHED_FORKED_MSG)
        # In flight from before the `closed` check until the work is queued:
        # the shutdown sets `closed`, then waits for no submission in flight.
        aio_fetch_add(&self.inflight, 1)
        try:
            if aio_load_seq(&self.closed):
                raise RuntimeError('scheduler is closed')
            if hint is None:
                if caller == -2:
                    caller = self.caller_index()
                return self._submit(fn, args, context, caller)
            h = PyLong_AsLongLongAndOverflow(hint, &overflow)
            if overflow:
                target = hint % self.n
            else:
                target = h % self.n         # C's remainder (cdivision)
                if target < 0:
                    target += self.n
            # Pinned: the loop's own call_soon_threadsafe (its ready queue
            # on its own thread, its inbox from any other).
            return (<LoopRemote>self.remotes[target]).call_threadsafe(
                fn, args, context)
        finally:
            aio_fetch_add(&self.inflight, -1)

    def submit(self, fn, tuple args, hint, context):
        """Scheduler.sched(fn, *args, hint=hint, context=context)."""
        return self.sched(fn, args, hint, context, -2)

    def inflight_count(self):
        return aio_load_seq(&self.inflight)

    cdef SchedHandle _submit(self, object callback, tuple args, object context,
                             int caller):
        # Unhinted work; `caller`: the submitting dispatch thread's index, or
        # -1 for any other thread.
        cdef SchedHandle h = _new_sched_handle(callback, args, context)
        cdef int target
        cdef DispatchHook hook
        if caller >= 0:
            (<RunQueue>self.queues[caller]).put(h, False)
            if self.n > 1:
                self.notify_one(caller)
        else:
            target = self.least_loaded()
            hook = <DispatchHook>self.hooks[target]
            hook.q.put(h, True)
            hook.remote.kick()
            if hook.q.size() > _RUNQ_BACKLOG:
                # Back-pressure, as for the inbox (loop.pyx): a producer
                # that never releases the GIL keeps the dispatch threads
                # from running for whole switch intervals, and the queues
                # grow to hundreds of thousands of handles and contexts,
                # far out of the caches, which then slow every step of
                # running them. Give the GIL and the CPU away once per
                # submission past the mark instead.
                with nogil:
                    sched_yield()
        return h

    def close(self):
        """Refuse submissions from now on and stop stealing."""
        aio_store_seq(&self.closed, 1)

    def close_queues(self):
        for q in self.queues:
            (<RunQueue>q).close()

    def take_all(self, int index):
        """Empty queue `index` (its loop does not run): the handles, in order."""
        cdef PyObject *tmp[_TAKE_BATCH]
        cdef Py_ssize_t n, i
        cdef RunQueue q = <RunQueue>self.queues[index]
        out = []
        while True:
            n = q.take(tmp, _TAKE_BATCH)
            if n == 0:
                return out
            for i in range(n):
                h = <object>tmp[i]
                Py_DECREF(h)
                _gc_unpark_refused(h)   # out of the loops' queues for good
                out.append(h)

    def is_closed(self):
        return bool(aio_load_seq(&self.closed))

    def queued(self, int index):
        return (<RunQueue>self.queues[index]).size()

    def total_queued(self):
        cdef Py_ssize_t t = 0
        for q in self.queues:
            t += (<RunQueue>q).size()
        return t

    def stats(self, int index):
        cdef DispatchHook h = <DispatchHook>self.hooks[index]
        return {
            'taken': h.n_taken,
            'stolen': h.n_stolen,
            'steal_attempts': h.n_steal_attempts,
            'sleeps': h.n_sleeps,
            'submitted_outside': h.q.puts_outside(),
            'queued': h.q.size(),
        }


# --- the Python-facing entry points --------------------------------------------
# Scheduler.sched (SchedulerBase, the base of scheduler.py's Scheduler) and
# aioloop.sched: one C call from the caller's frame to the queue.

cdef class SchedulerBase:
    @cython.binding(True)
    def sched(self, fn, /, *args, hint=None, context=None):
        """Run fn(*args) on a dispatch thread (``hint % threads`` if given)
        from any thread; returns a handle with cancel()."""
        if self._core is None:
            raise RuntimeError("Scheduler.__init__ was not called")
        return self._core.sched(fn, args, hint, context, -2)


@cython.binding(True)
def sched(fn, /, *args, hint=None, context=None):
    """Run fn(*args) on the current scheduler (from a dispatch thread) or,
    on a plain running loop, soon on that loop. Returns a handle."""
    cdef CycleHook hook
    _check_hint(hint)
    loop = _get_running_loop()
    if isinstance(loop, EventLoopCore):
        hook = (<EventLoopCore>loop).remote().hook()
        if isinstance(hook, DispatchHook):
            # This thread runs dispatch loop `index`.
            return (<DispatchHook>hook).core.sched(
                fn, args, hint, context, (<DispatchHook>hook).index)
    if loop is None:
        raise RuntimeError("aioloop.sched() needs a running loop; from a plain "
                           "thread use Scheduler.sched()")
    return loop.call_soon(fn, *args, context=context)
