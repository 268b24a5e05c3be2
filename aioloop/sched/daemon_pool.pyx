# The daemon pool: threads that run blocking calls for the loops (libaio's
# "AIO daemons"), and every Loop's default executor.
#
# The queue is C: a ring of jobs under a pthread mutex, idle threads waiting
# on a condition variable with the GIL released. A call made through
# run_in_executor(None, ...) takes the short path: one asyncio future, one
# job, and the result comes back as one handle in the loop's thread-safe
# inbox (loop/inbox.pyx) -- no concurrent.futures.Future, no future chaining.
#
# Where the time goes. On a 2-CPU machine a round trip is dominated by
# threads waking each other, not by Python: the loop wakes a pool thread,
# and the result wakes the loop. Two rules keep each hand-over to one wake:
# - a pool thread posts its result with the inbox's wake deferred
#   (Inbox.put(defer=True)) and pays it only after releasing the GIL, so the
#   loop does not wake to a GIL still held and sleep again until it is free;
# - the mutex is released before the condition variable is signalled, so
#   the woken thread does not block on the mutex its waker still holds.
# Results that finish while the loop is busy arrive as one batch: the inbox
# writes the loop's eventfd once per sleep.
#
# DaemonPool is a concurrent.futures.ThreadPoolExecutor (submit/map/shutdown
# behave as its, including initializer and BrokenThreadPool), so
# loop.set_default_executor() accepts it and code that expects a
# ThreadPoolExecutor gets one.
#
# Threads: started lazily, up to max_workers (ThreadPoolExecutor's default),
# while more jobs wait than threads are idle. shutdown(wait=True) joins them;
# Loop.close() calls shutdown(wait=False), as asyncio does, so a thread busy
# in a user's blocking call finishes that call and then exits. At interpreter
# exit every pool still open is shut down and joined, before threading joins
# its non-daemon threads (as concurrent.futures does for its pools).

from cpython.ref cimport Py_INCREF, Py_DECREF
from libc.stdlib cimport malloc, realloc, free
from aioloop.includes.pthread cimport *
from aioloop.includes.atomics cimport *

cdef object _wrap_future = _futures.wrap_future
# concurrent.futures' CancelledError/TimeoutError/InvalidStateError become
# asyncio's, as wrap_future() does for any executor.
cdef object _convert_future_exc = _futures._convert_future_exc
cdef object _BrokenThreadPool = _concurrent_futures_thread.BrokenThreadPool
cdef object _cf_logger = _concurrent_futures._base.LOGGER


def _complete(fut, result, exc):
    # On the loop's thread. A future cancelled meanwhile keeps its state.
    if fut.cancelled():
        return
    if exc is None:
        fut.set_result(result)
    else:
        fut.set_exception(_convert_future_exc(exc))


@cython.freelist(64)
cdef class _Job:
    pass


cdef class _DaemonQueue:
    def __cinit__(self, int max_workers, str name_prefix, initializer, tuple initargs):
        if pthread_mutex_init(&self.lock, NULL) != 0:
            raise MemoryError()
        if pthread_cond_init(&self.cond, NULL) != 0:
            pthread_mutex_destroy(&self.lock)
            raise MemoryError()
        self.cap = 16
        self.items = <_Slot *>malloc(sizeof(_Slot) * self.cap)
        if self.items == NULL:
            raise MemoryError()
        self.max_workers = max_workers
        self.name_prefix = name_prefix
        self.initializer = initializer
        self.initargs = initargs
        self.threads_cond = _threading.Condition(_threading.Lock())
        self.threads = []

    def __dealloc__(self):
        # Only reached when no thread runs work() (each holds a reference).
        cdef Py_ssize_t i
        if self.items != NULL:
            for i in range(self.count):
                Py_DECREF(<object>self.items[(self.head + i) % self.cap].job)
            free(self.items)
            self.items = NULL
        pthread_cond_destroy(&self.cond)
        pthread_mutex_destroy(&self.lock)

    cdef void _reinit_after_fork(self) noexcept:
        # In a fork()ed child only the forking thread exists: the pool's
        # threads are gone, and the mutex may have been held by one of them
        # (take() runs without the GIL), the ring half-updated. The jobs still
        # queued are the parent's, which runs them: the child must not run
        # them again (a write, a payment...). They are left, not released:
        # the ring cannot be trusted, and their futures belong to the parent.
        pthread_mutex_init(&self.lock, NULL)
        pthread_cond_init(&self.cond, NULL)
        self.head = 0
        self.count = 0
        self.idle = 0
        self.nthreads = 0
        self.starting = 0
        self.threads_cond = _threading.Condition(_threading.Lock())
        self.threads = []

    # --- submitting (any thread, GIL held) ------------------------------------

    cdef int put(self, _Job job, const int *poll_flag) except -1:
        cdef bint signal, start
        cdef _Slot *grown
        cdef Py_ssize_t i
        if self.broken is not None:
            raise _BrokenThreadPool(self.broken)
        if _concurrent_futures_thread._shutdown:
            raise RuntimeError('cannot schedule new futures after interpreter shutdown')
        Py_INCREF(job)
        pthread_mutex_lock(&self.lock)
        if self.shutdown:
            pthread_mutex_unlock(&self.lock)
            Py_DECREF(job)
            raise RuntimeError('cannot schedule new futures after shutdown')
        if self.count == self.cap:
            grown = <_Slot *>realloc(self.items, sizeof(_Slot) * self.cap * 2)
            if grown == NULL:
                pthread_mutex_unlock(&self.lock)
                Py_DECREF(job)
                raise MemoryError()
            # Unwrap the ring into the doubled array: the items that had
            # wrapped to the front move up behind the others.
            for i in range(self.head):
                grown[self.cap + i] = grown[i]
            self.items = grown
            self.cap *= 2
        i = (self.head + self.count) % self.cap
        self.items[i].job = <PyObject *>job
        self.items[i].poll_flag = poll_flag
        self.count += 1
        signal = self.idle > 0
        # More jobs waiting than idle threads to take them: one more thread.
        start = self.count > self.idle and self.nthreads < self.max_workers
        if start:
            self.nthreads += 1
            self.starting += 1
        pthread_mutex_unlock(&self.lock)
        if signal:
            pthread_cond_signal(&self.cond)
        if start:
            self._start_thread()
        return 0

    cdef _start_thread(self):
        # `starting` covers the gap between put() counting the thread and
        # `threads` listing it: close() waits for it to close, or
        # shutdown(wait=True) could miss a thread about to run a job. Each
        # way out wakes close(), which may be waiting for `starting` to drop.
        with self.threads_cond:
            try:
                t = _threading.Thread(target=self.work,
                                      name=f'{self.name_prefix}_{len(self.threads)}')
                t.start()
            except BaseException:
                pthread_mutex_lock(&self.lock)
                self.nthreads -= 1
                self.starting -= 1
                pthread_mutex_unlock(&self.lock)
                self.threads_cond.notify_all()
                raise
            self.threads.append(t)
            pthread_mutex_lock(&self.lock)
            self.starting -= 1
            pthread_mutex_unlock(&self.lock)
            self.threads_cond.notify_all()

    # --- the worker -------------------------------------------------------------

    cdef PyObject *take(self, const int **poll_flag) noexcept nogil:
        """The next job (a new reference) and its poll flag, or NULL once
        shut down and empty. Queued jobs still run after shutdown(), as with
        ThreadPoolExecutor."""
        cdef PyObject *item = NULL
        cdef _Slot slot
        cdef bint waited = False
        # Never the previous job's flag: its loop may be gone by now.
        poll_flag[0] = NULL
        pthread_mutex_lock(&self.lock)
        self.idle += 1
        while self.count == 0 and not self.shutdown:
            waited = True
            pthread_cond_wait(&self.cond, &self.lock)
        self.idle -= 1
        if self.count:
            slot = self._pop_locked()
            item = slot.job
            # Wait for the submitter's poll only when woken for this job:
            # a job already queued means a burst, and a loop still busy.
            if waited:
                poll_flag[0] = slot.poll_flag
        pthread_mutex_unlock(&self.lock)
        return item

    cdef _Slot _pop_locked(self) noexcept nogil:
        """The oldest slot, taken out of the ring. Lock held, count > 0."""
        cdef _Slot slot = self.items[self.head]
        self.head = (self.head + 1) % self.cap
        self.count -= 1
        return slot

    def work(self):
        """A pool thread's body."""
        cdef PyObject *item
        cdef const int *poll_flag = NULL
        cdef _Job job
        cdef LoopRemote owed = None     # a loop this thread owes a wake
        try:
            if self.initializer is not None and not self._run_initializer():
                return
            while True:
                with nogil:
                    if owed is not None:
                        owed.pay_wake()
                    item = self.take(&poll_flag)
                    if poll_flag != NULL:
                        _await_poll(poll_flag)
                owed = None
                if item == NULL:
                    return
                job = <_Job>item
                Py_DECREF(job)          # the queue's reference; `job` holds one
                owed = self._run(job)
                job = None
        finally:
            if owed is not None:
                owed.pay_wake()
            pthread_mutex_lock(&self.lock)
            self.nthreads -= 1
            pthread_mutex_unlock(&self.lock)

    cdef LoopRemote _run(self, _Job job):
        """Run one job; returns the loop owed a wake, if any."""
        cdef LoopRemote remote
        fut = job.fut
        if job.loop is None:
            # concurrent.futures.Future (submit()): ThreadPoolExecutor's rules.
            if not fut.set_running_or_notify_cancel():
                return None
            try:
                result = job.func(*job.args, **job.kwargs)
            except BaseException as exc:
                fut.set_exception(exc)
            else:
                fut.set_result(result)
            return None
        remote = <LoopRemote>job.loop
        # A read of another thread's future: only a hint that saves the call.
        # _complete() decides on the loop's thread.
        if fut.cancelled():
            return None
        exc = None
        try:
            result = job.func(*job.args)
        except BaseException as e:
            result = None
            exc = e
        try:
            remote.post(_complete, (fut, result, exc), None, True)
        except RuntimeError:
            return None     # the loop closed meanwhile: nobody waits
        return remote

    cdef bint _run_initializer(self) except -1:
        try:
            self.initializer(*self.initargs)
            return True
        except BaseException:
            _cf_logger.critical('Exception in initializer:', exc_info=True)
        # As ThreadPoolExecutor: the pool is broken, queued jobs fail.
        self.broken = ('A thread initializer failed, the thread pool '
                       'is not usable anymore')
        for job in self.drain():
            _fail(job, _BrokenThreadPool(self.broken))
        return False

    # --- shutting down ------------------------------------------------------------

    cdef list drain(self):
        """Take every queued job out (cancel_futures, a broken pool)."""
        cdef list jobs = []
        cdef PyObject *item
        while True:
            pthread_mutex_lock(&self.lock)
            if self.count == 0:
                pthread_mutex_unlock(&self.lock)
                return jobs
            item = self._pop_locked().job
            pthread_mutex_unlock(&self.lock)
            jobs.append(<object>item)
            Py_DECREF(<object>item)

    def close(self, bint cancel_futures):
        """Refuse new jobs, wake every idle thread; returns the threads."""
        cdef int starting
        pthread_mutex_lock(&self.lock)
        self.shutdown = True
        pthread_mutex_unlock(&self.lock)
        if cancel_futures:
            for job in self.drain():
                _fail(job, None)
        pthread_cond_broadcast(&self.cond)
        with self.threads_cond:
            while True:
                pthread_mutex_lock(&self.lock)
                starting = self.starting
                pthread_mutex_unlock(&self.lock)
                if starting == 0:
                    return list(self.threads)
                # A put() that got in before `shutdown` is starting a thread.
                # It needs threads_cond's lock, which wait() releases, and
                # notifies once the thread is listed (or failed to start).
                self.threads_cond.wait()


cdef enum:
    _POLL_SPINS = 64


cdef inline void _await_poll(const int *polling) noexcept nogil:
    # A job submitted by a running loop reaches us while that loop still
    # holds the GIL, and keeps it until it next polls. Taking the GIL now
    # would block: the thread sleeps and needs one more wake when the loop
    # drops it. So first wait, yielding the CPU, for the loop to enter
    # epoll_wait; but only briefly: a loop busy for longer (or blocked in a
    # callback) gets the ordinary GIL hand-over, never a deadlock.
    cdef int i
    for i in range(_POLL_SPINS):
        if aio_load_acquire(polling):
            return
        sched_yield()


cdef _fail(_Job job, exc):
    """Complete a job that will not run: cancel it (exc None) or fail it."""
    if job.loop is None:
        if exc is None:
            job.fut.cancel()
        elif job.fut.set_running_or_notify_cancel():
            job.fut.set_exception(exc)
        return
    try:
        if exc is None:
            (<LoopRemote>job.loop).post(job.fut.cancel, (), None, False)
        else:
            (<LoopRemote>job.loop).post(_complete, (job.fut, None, exc), None, False)
    except RuntimeError:
        pass        # the loop closed meanwhile: nobody waits


# Pools still open, for interpreter exit and fork.
_live_pools = _weakref.WeakSet()


def _at_exit():
    # Runs before threading joins non-daemon threads: without it a pool that
    # nobody shut down would keep interpreter exit waiting forever.
    for pool in list(_live_pools):
        pool.shutdown(wait=True)


def _after_fork_in_child():
    for pool in list(_live_pools):
        (<_DaemonQueue>pool._q)._reinit_after_fork()


_threading._register_atexit(_at_exit)
_os.register_at_fork(after_in_child=_after_fork_in_child)


class DaemonPool(_concurrent_futures.ThreadPoolExecutor):
    """A pool of threads for blocking calls; aioloop's default executor.

    ``run_in_executor(None, func, *args)`` on an aioloop Loop uses it without
    concurrent.futures machinery. Any thread may submit; results are
    delivered on the submitting loop's thread."""

    def __init__(self, max_workers=None, thread_name_prefix='aioloop-daemon',
                 initializer=None, initargs=()):
        # Validates max_workers and initializer as ThreadPoolExecutor does.
        super().__init__(max_workers, thread_name_prefix, initializer, initargs)
        self._q = _DaemonQueue(self._max_workers, self._thread_name_prefix,
                               initializer, tuple(initargs))
        _live_pools.add(self)

    def _submit_to_loop(self, loop, func, args):
        """Run func(*args) on a pool thread; return an asyncio future of
        `loop`, completed on the loop's thread."""
        cdef const int *flag = NULL
        cdef LoopRemote remote = (<EventLoopCore?>loop).remote()
        fut = loop.create_future()
        cdef _Job job = _Job.__new__(_Job)
        job.loop = remote
        job.fut = fut
        job.func = func
        job.args = args
        # Submitted on the loop's own thread, which holds the GIL until it
        # next polls: the pool thread waits for that poll (see _await_poll).
        if remote.on_loop_thread():
            flag = remote.polling_flag()
        (<_DaemonQueue>self._q).put(job, flag)
        return fut

    def submit(self, fn, /, *args, **kwargs):
        cdef _Job job = _Job.__new__(_Job)
        job.fut = _concurrent_futures.Future()
        job.func = fn
        job.args = args
        job.kwargs = kwargs
        (<_DaemonQueue>self._q).put(job, NULL)
        return job.fut

    def shutdown(self, wait=True, *, cancel_futures=False):
        threads = self._q.close(cancel_futures)
        if wait:
            me = _threading.current_thread()
            for t in threads:
                if t is not me:
                    t.join()


def run_in_executor(self, executor, func, *args):
    """Run func(*args) in `executor` (None: the loop's default executor, a
    DaemonPool) and return an asyncio future of the result."""
    self._check_closed()
    if self._debug:
        self._check_callback(func, 'run_in_executor')
    if executor is None:
        executor = self._default_executor
        self._check_default_executor()
        if executor is None:
            executor = DaemonPool()
            self._default_executor = executor
    if type(executor) is DaemonPool:
        return executor._submit_to_loop(self, func, args)
    return _wrap_future(executor.submit(func, *args), loop=self)
