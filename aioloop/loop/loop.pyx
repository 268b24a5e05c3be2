# The one-thread event loop: scheduling and the run cycle. Which watcher
# serves each fd is the fd table's business (fdtable.pyx); the kernel's, the
# poller's (kernel/poller.pyx).
#
# The run cycle (_run_once) keeps asyncio's ordering rules exactly
# (base_events.BaseEventLoop._run_once):
#   1. the poll timeout is 0 when callbacks are ready or stop() was called,
#      else the time to the earliest live timer, else infinite;
#   2. after the poll, callbacks that other threads posted, then the I/O
#      callbacks, then the timers that came due, join the ready queue behind
#      whatever was already there;
#   3. exactly the callbacks present at that point run; whatever they schedule
#      waits for the next pass.

from cpython.weakref cimport PyWeakref_NewRef
from cpython.exc cimport PyErr_CheckSignals
from cpython.object cimport PyCallable_Check
from libc.math cimport ceil, isnan
from libc.stdlib cimport malloc, free
from aioloop.includes.linux cimport *
from aioloop.includes.atomics cimport *
from aioloop.includes.python cimport PyThread_get_thread_ident
from aioloop.includes.python cimport PyObject_Vectorcall, aio_tuple_items
from aioloop.includes.python cimport _PyContext_Enter_ptr, _PyContext_Exit_ptr

cdef object _Future = _asyncio.Future
cdef object _Task = _asyncio.Task
cdef object _set_running_loop = _events._set_running_loop
cdef object _extract_stack = _format_helpers.extract_stack
cdef object _format_callback_source = _format_helpers._format_callback_source
# Python 3.13 shows a failing callback's arguments only in debug mode (they may
# hold secrets) and takes a `debug` flag for it; earlier versions always show them.
cdef bint _format_callback_takes_debug = (
    'debug' in _inspect.signature(_format_callback_source).parameters)
cdef object _format_handle = _base_events._format_handle
cdef object _is_debug_mode = _asyncio.coroutines._is_debug_mode
cdef object _check_callback = _base_events.BaseEventLoop._check_callback
cdef object _stdlib_create_task = _base_events.BaseEventLoop.create_task
cdef object _get_asyncgen_hooks = _sys.get_asyncgen_hooks
cdef object _set_asyncgen_hooks = _sys.set_asyncgen_hooks
cdef object _getframe = _sys._getframe

cdef enum:
    # asyncio's MAXIMUM_SELECT_TIMEOUT: never sleep longer than a day at once.
    _MAX_POLL_MS = 24 * 3600 * 1000
    # Callbacks from other threads taken into one pass of the run cycle; the
    # rest runs in later passes, in order (fairness under a flood).
    _INBOX_BATCH = 1024
    # Queued posts past which each poster yields the GIL and the CPU.
    _INBOX_BACKLOG = 4096

cdef extern from *:
    """
    #ifdef Py_GIL_DISABLED
    #define AIO_FREE_THREADED 1
    #else
    #define AIO_FREE_THREADED 0
    #endif
    """
    bint _FREE_THREADED "AIO_FREE_THREADED"

# --- the C heap ---------------------------------------------------------------
# A message of tens or hundreds of KiB is a bytes object of that size, and the
# streams API copies it twice more (StreamReader's buffer, the bytes read()
# returns). With glibc's defaults (trim threshold 128 KiB) freeing those
# leaves more than 128 KiB free at the top of the heap, so free() gives it
# back to the kernel with brk(), and the next message takes it again, page
# fault by page fault: a 100 KiB streams echo spent half its CPU time there.
# glibc has its own rule for programs that free big blocks: freeing a chunk
# it had mmap()ed raises the mmap threshold to that chunk's size and the trim
# threshold to twice it ("dynamic threshold"). The first loop triggers that
# rule once, with a 1 MiB block, so blocks below 1 MiB come from the heap and
# up to 2 MiB of free heap is kept. A program that set the thresholds itself
# (mallopt(), MALLOC_TRIM_THRESHOLD_ and friends) turned the rule off, and
# keeps its settings. Elsewhere than glibc this does nothing.
cdef extern from *:
    """
    #ifdef __GLIBC__
    #include <stdlib.h>
    static void * volatile aio_heap_sink;
    static int aio_heap_tuned;
    static void aio_tune_heap_once(void) {
        if (__atomic_exchange_n(&aio_heap_tuned, 1, __ATOMIC_SEQ_CST))
            return;
        /* Through a volatile pointer: the compiler may not drop the pair. */
        aio_heap_sink = malloc((size_t)1 << 20);
        free(aio_heap_sink);
        aio_heap_sink = NULL;
    }
    #else
    static void aio_tune_heap_once(void) {}
    #endif
    """
    void aio_tune_heap_once() nogil


class LoopExit(BaseException):
    """A BaseException that a callback may raise to end run_forever() with
    an error, as SystemExit and KeyboardInterrupt do (every other exception
    of a callback goes to the exception handler). The Scheduler raises a
    subclass on loop 0 when a dispatch thread failed."""


# --- fork -------------------------------------------------------------------
# An epoll set and an eventfd are shared with a fork()ed child. A child that
# polled the parent's set would steal its events; one that unregistered fds
# would corrupt it. So a loop remembers the fork generation it was made in,
# and refuses to run in any other.
cdef unsigned long _fork_generation = 0
cdef str _FORKED_LOOP_MSG = (
    'this aioloop event loop was created before os.fork() and '
    'cannot be used in the child process; close it and create a '
    'new loop in the child')

def _after_fork_in_child():
    global _fork_generation
    _fork_generation += 1

_os.register_at_fork(after_in_child=_after_fork_in_child)


cdef inline double _monotonic() noexcept nogil:
    # The clock of time.monotonic(): a loop time is comparable with it.
    cdef timespec ts
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return <double>ts.tv_sec + <double>ts.tv_nsec * 1e-9


cdef extern from "Python.h":
    ctypedef struct PyTypeObject
    PyObject *PyDict_GetItem(object d, object key)    # borrowed; NULL if absent
    int PyObject_GenericSetAttr(object o, object name, PyObject *value) except -1
    # The MRO lookup behind type attribute access, through the type's method
    # cache (Cython's own utility code relies on it): borrowed, never raises.
    PyObject *_PyType_Lookup(PyTypeObject *t, object name)
    PyTypeObject *Py_TYPE(object o)

# asyncio's loop.time() calls time.monotonic() at call time, so a test that
# replaces time.monotonic moves asyncio's clock. We honour that too: the
# module attribute is compared with the real function (one dict lookup).
cdef dict _time_module_dict = vars(_time)
cdef object _real_monotonic = _time.monotonic
cdef str _MONOTONIC = 'monotonic'
cdef str _TIME = 'time'

cdef inline bint _monotonic_patched() noexcept:
    return PyDict_GetItem(_time_module_dict, _MONOTONIC) != <PyObject *>_real_monotonic

cdef object _CORE_TIME      # EventLoopCore.__dict__['time'], set below the class


cdef int _fileobj_to_fd(object fileobj) except -2:
    # selectors._fileobj_to_fd, with asyncio's messages.
    cdef long fd
    if isinstance(fileobj, int):
        fd = fileobj
    else:
        try:
            fd = int(fileobj.fileno())
        except (AttributeError, TypeError, ValueError):
            raise ValueError(f"Invalid file object: {fileobj!r}") from None
    if fd < 0:
        raise ValueError(f"Invalid file descriptor: {fd}")
    if fd > 0x7fffffff:
        raise ValueError(f"Invalid file descriptor: {fd}")
    return <int>fd


cdef enum:
    _RECV_BUF_SIZE = 256 * 1024     # asyncio's max_size per recv()


cdef class EventLoopCore:
    def __cinit__(self, *args, **kwargs):
        aio_tune_heap_once()
        self._recv_buf_size = _RECV_BUF_SIZE
        self._recv_buf = <char *>malloc(self._recv_buf_size)
        if self._recv_buf == NULL:
            raise MemoryError()
        self._poller = Poller()
        self._ready = ReadyQueue()
        self._timers = TimerHeap()
        self._inbox = Inbox(self._poller)
        self._fdtable = FdTable(self._poller)
        self._closed = False
        self._stopping = False
        self._running = False
        self._tid = 0
        self._fork_gen = _fork_generation
        self._hook = None
        self._published_load = 0
        self._n_quiet_fds = 0
        self._strict_thread = _FREE_THREADED
        self._remote = _new_remote(self)
        self._current_handle = None
        self._exception_handler = None
        self._task_factory = None
        self._default_executor = None
        self._executor_shutdown_called = False
        self._asyncgens = _weakref.WeakSet()
        self._asyncgens_shutdown_called = False
        self._coroutine_origin_tracking_enabled = False
        self._coroutine_origin_tracking_saved_depth = None
        self._old_agen_hooks = None
        self.slow_callback_duration = 0.1
        cdef timespec res
        clock_getres(CLOCK_MONOTONIC, &res)
        self._clock_resolution = <double>res.tv_sec + <double>res.tv_nsec * 1e-9
        self._debug = bool(_is_debug_mode())

    def __dealloc__(self):
        free(self._recv_buf)
        self._recv_buf = NULL

    # --- state ---------------------------------------------------------------

    cdef inline int _check_closed_c(self) except -1:
        if self._closed:
            raise RuntimeError('Event loop is closed')
        return 0

    def _check_closed(self):
        self._check_closed_c()

    def _set_strict_thread(self, bint on):
        # The Scheduler turns this on for its loops on every build.
        self._strict_thread = on

    cdef int _check_owner_thread(self, str method) except -1:
        # A wrong-thread call_soon would push into the ready ring while the
        # loop's thread pops from it. asyncio checks only in debug mode.
        if self._running and PyThread_get_thread_ident() != self._tid:
            if self._debug:
                # asyncio's debug-mode check, with asyncio's message.
                self._check_thread()
            raise RuntimeError(
                f'{method}() called from a thread other than the one running '
                f'the loop; use loop.call_soon_threadsafe() to schedule a '
                f'callback from another thread')
        return 0

    cdef int _check_fork(self) except -1:
        if self._fork_gen != _fork_generation:
            raise RuntimeError(_FORKED_LOOP_MSG)
        return 0

    def _check_thread(self):
        if self._running and PyThread_get_thread_ident() != self._tid:
            raise RuntimeError(
                "Non-thread-safe operation invoked on an event loop other "
                "than the current one")

    @property
    def _thread_id(self):
        return self._tid if self._running else None

    def is_running(self):
        """True while run_forever() or run_until_complete() runs the loop."""
        return self._running

    def is_closed(self):
        return self._closed

    def get_debug(self):
        return self._debug

    def time(self):
        """The loop's clock: CLOCK_MONOTONIC seconds, the clock of
        time.monotonic(). Read live, as asyncio does (a cached per-cycle time
        would make loop.time() lie inside long callbacks). Like asyncio's, it
        calls time.monotonic() when that has been replaced (by a test)."""
        if _monotonic_patched():
            return _time.monotonic()
        return _monotonic()

    # Setting or deleting an instance attribute `time` (mock.patch.object)
    # is noted here, so that the run cycle need not look in the instance
    # dict (reading it would materialise a dict that CPython otherwise keeps
    # as inline values, slowing every Python-level attribute read on the loop).
    def __setattr__(self, name, value):
        PyObject_GenericSetAttr(self, name, <PyObject *>value)
        if name == _TIME:
            self._time_on_instance = True

    def __delattr__(self, name):
        PyObject_GenericSetAttr(self, name, NULL)
        if name == _TIME:
            self._time_on_instance = False

    cdef double _now(self) except? -1.0:
        """The loop's time: our clock, or self.time() when it was replaced."""
        if _clock_is_ours(self):
            return _monotonic()
        return self.time()

    cdef void _cache_wall_clock(self) noexcept:
        cdef timespec ts
        clock_gettime(CLOCK_REALTIME, &ts)
        aio_store_ssize_relaxed(&self._wall_ns,
                                <Py_ssize_t>ts.tv_sec * 1000000000 + ts.tv_nsec)
        self._n_wall_reads += 1

    def _set_wall_clock_cache(self, bint on):
        """Read the time of day once per pass, after the poll (aio.now()).
        Loop thread, or the owner while the loop is not running."""
        self._wall_cache = on
        if on:
            self._cache_wall_clock()

    def _cached_wall_clock(self):
        """The time of day read at the start of this loop's current pass
        (time.time() scale), or None if caching is off or it never ran.
        Any thread."""
        cdef Py_ssize_t ns = aio_load_ssize_relaxed(&self._wall_ns)
        if ns == 0:
            return None
        return ns * 1e-9

    def stats(self):
        """Counters since the loop was made (libaio's counters): callbacks
        run, passes of the run cycle, polls, epoll_ctl calls, I/O events,
        timers scheduled, wall-clock reads for aio.now(), inbox wake-ups,
        and the
        current sizes of the ready queue, timer heap and inbox."""
        return {
            'callbacks': self._n_callbacks,
            'polls': self._n_polls,
            'io_events': self._n_io_events,
            'timers_scheduled': self._n_timers,
            'passes': self._n_passes,
            'wall_clock_reads': self._n_wall_reads,
            'epoll_ctl': self._poller.nctl,
            'inbox_wakeups': self._inbox.wakeups,
            'ready': self._ready.count,
            'timers': self._timers.size,
            'timers_cancelled': self._timers.cancelled,
            'inbox': len(self._inbox),
        }

    # --- scheduling ----------------------------------------------------------

    cdef Handle _make_handle(self, Handle h, object callback, tuple args,
                             object context, str method, bint scheduling=True):
        # `scheduling`: call_soon/call_at and friends, which asyncio checks
        # more strictly in debug mode than add_reader/add_writer.
        if self._debug and scheduling:
            self._check_thread()
            _check_callback(self, callback, method)
        elif not PyCallable_Check(callback):
            raise TypeError(
                f'a callable object was expected by {method}(), '
                f'got {callback!r}')
        h._callback = callback
        h._args = args
        h._loop = self
        # A copy is parked only when headed for a queue (a reader/writer
        # handle is not: its watcher holds it). See handles.pyx on parking.
        _set_context(h, context, scheduling)
        if self._debug:
            # Cython functions have no frame: frame 0 is the Python caller.
            h._source_traceback = _extract_stack(_getframe(0))
        if scheduling:
            _gc_park(h)
        return h

    def call_soon(self, callback, *args, context=None):
        """Run callback(*args) on the next pass of the loop, in FIFO order
        with other call_soon() callbacks. Loop thread only. Returns a Handle."""
        self._check_closed_c()
        if self._fork_gen != _fork_generation:
            raise RuntimeError(_FORKED_LOOP_MSG)
        if self._strict_thread:
            self._check_owner_thread('call_soon')
        cdef Handle h = self._make_handle(Handle.__new__(Handle), callback,
                                          args, context, 'call_soon')
        if not self._running:
            # Before the loop runs, call_soon_threadsafe() parks callbacks in
            # the inbox, where asyncio would have appended them to the ready
            # queue at once. Move them over first so that set-up code mixing
            # the two methods keeps one FIFO order, as on asyncio. (While the
            # loop runs, the same thread's call_soon_threadsafe() pushes to the
            # ready queue directly; other threads' order is a race anyway.)
            self._inbox.drain_into(self._ready)
        self._ready.push(h)
        return h

    def call_soon_threadsafe(self, callback, *args, context=None):
        """Like call_soon(), callable from any thread. From another thread,
        the callback goes through the loop's inbox and wakes the loop if it
        sleeps (one eventfd write per sleep)."""
        return self._call_soon_threadsafe(callback, args, context)

    cdef Handle _call_soon_threadsafe(self, object callback, tuple args,
                                      object context):
        # call_soon_threadsafe()'s body, for the Scheduler's hinted sched()
        # too (through LoopRemote.call_threadsafe).
        self._check_closed_c()
        cdef Handle h
        if (aio_load_flag(&self._running) and
                PyThread_get_thread_ident() == aio_load_ulong(&self._tid)):
            # On the loop's own thread this is call_soon: keeping it in the
            # same queue keeps asyncio's ordering with call_soon().
            h = self._make_handle(Handle.__new__(Handle), callback, args,
                                  context, 'call_soon_threadsafe')
            self._ready.push(h)
            return h
        if not PyCallable_Check(callback) or aio_load_flag(&self._debug):
            _check_callback(self, callback, 'call_soon_threadsafe')
        return self._post_threadsafe(callback, args, context, False)

    cdef Handle _post_threadsafe(self, object callback, tuple args,
                                 object context, bint defer_wake):
        """Queue callback(*args) from a thread other than the loop's. With
        defer_wake the caller pays the wake (self._inbox.pay_wake()) once it
        has released the GIL."""
        cdef Handle h = Handle.__new__(Handle)
        h._callback = callback
        h._args = args
        h._loop = self
        _set_context(h, context, True)
        if aio_load_flag(&self._debug):
            h._source_traceback = _extract_stack(_getframe(0))
        _gc_park(h)
        self._inbox.put(h, defer_wake)
        if aio_load_ssize_relaxed(&self._inbox.count) > _INBOX_BACKLOG:
            # Back-pressure: a producer that never releases the GIL (this
            # path makes no syscall) would otherwise keep the loop's thread
            # from running for whole switch intervals while the backlog
            # grows. Give the GIL and the CPU away once per post instead.
            with nogil:
                sched_yield()
        return h

    cdef TimerHandle _call_at(self, double when, object callback, tuple args,
                              object context, str method):
        self._check_closed_c()
        if self._fork_gen != _fork_generation:
            raise RuntimeError(_FORKED_LOOP_MSG)
        if self._strict_thread:
            self._check_owner_thread(method)
        if isnan(when):
            raise ValueError('when must not be NaN')
        cdef TimerHandle t = <TimerHandle>self._make_handle(
            TimerHandle.__new__(TimerHandle), callback, args, context, method)
        t._when = when
        self._timers.push(t)
        self._n_timers += 1
        return t

    def call_later(self, delay, callback, *args, context=None):
        """Run callback(*args) after `delay` seconds (int or float). Returns a
        TimerHandle. Loop thread only."""
        if delay is None:
            raise TypeError('delay must not be None')
        cdef double d
        try:
            d = delay
        except TypeError:
            raise TypeError(
                f'delay must be a number, got {type(delay).__name__}') from None
        if isnan(d):
            raise ValueError('delay must not be NaN')
        return self._call_at(self._now() + d, callback, args, context, 'call_later')

    def call_at(self, when, callback, *args, context=None):
        """Run callback(*args) at loop time `when`. Returns a TimerHandle.
        Loop thread only."""
        if when is None:
            raise TypeError("when cannot be None")
        cdef double w
        try:
            w = when
        except TypeError:
            raise TypeError(
                f'when must be a number, got {type(when).__name__}') from None
        return self._call_at(w, callback, args, context, 'call_at')

    cdef int _timer_cancelled(self, TimerHandle t) except -1:
        if t._scheduled:
            self._timers.cancelled += 1
        return 0

    def _timer_handle_cancelled(self, handle):
        # asyncio.TimerHandle calls this; ours go through _timer_cancelled.
        pass

    def create_future(self):
        if self._fork_gen != _fork_generation:
            raise RuntimeError(_FORKED_LOOP_MSG)
        return _Future(loop=self)

    def create_task(self, coro, *, name=None, context=None):
        """Schedule a coroutine as an asyncio.Task (or via the task factory)."""
        self._check_closed_c()
        if self._task_factory is None and not self._debug:
            return _Task(coro, loop=self, name=name, context=context)
        return _stdlib_create_task(self, coro, name=name, context=context)

    def set_task_factory(self, factory):
        if factory is not None and not callable(factory):
            raise TypeError('task factory must be a callable or None')
        self._task_factory = factory

    def get_task_factory(self):
        return self._task_factory

    # --- running -------------------------------------------------------------

    cdef int _run_handle(self, Handle h) except -1:
        # The handle's context, or the spare one published in its slot (see
        # "Lazy contexts" in handles.pyx). Borrowed: the slot holds it until
        # _release_spare(), and the caller holds h.
        cdef PyObject **slot = aio_ctx_slot(h)
        cdef PyObject *ctx = aio_slot_load(slot)
        cdef bint spare = False
        if ctx == <PyObject *>None:
            if self._spare_ctx is None:
                self._spare_ctx = PyContext_New()
            ctx = <PyObject *>self._spare_ctx
            if aio_slot_cas(slot, <PyObject *>None, ctx):
                _Py_INCREF_ptr(ctx)                 # the slot's reference
                _Py_DECREF_ptr(<PyObject *>None)    # None's, which it held
                spare = True
            else:
                # get_context() gave the handle its own meanwhile.
                ctx = aio_slot_load(slot)
        cdef object callback
        cdef tuple args
        cdef double t0 = 0.0, dt
        # Decide once: a callback may call set_debug(). Reading the flag again
        # afterwards would time a callback whose start was never taken (and
        # warn that it took as long as the machine's uptime), or leave
        # _current_handle set after debug mode was switched off.
        cdef bint debug = self._debug
        if debug:
            self._current_handle = h
            t0 = self._now()
        try:
            _PyContext_Enter_ptr(ctx)
            try:
                # Local references: the callback may cancel its own handle,
                # which drops _callback and _args while they are in use.
                callback = h._callback
                args = h._args
                PyObject_Vectorcall(callback, aio_tuple_items(args),
                                    len(args), NULL)
            finally:
                _PyContext_Exit_ptr(ctx)
        except (SystemExit, KeyboardInterrupt, LoopExit):
            raise
        except BaseException as exc:
            self._report_callback_error(h, exc)
        finally:
            if spare:
                self._release_spare(h)
            if debug:
                dt = self._now() - t0
                self._current_handle = None
                if dt >= self.slow_callback_duration:
                    _logger.warning('Executing %s took %.3f seconds',
                                    _format_handle(h), dt)
        self._n_callbacks += 1
        return 0

    cdef void _release_spare(self, Handle h) noexcept:
        # After a run in the spare context: keep it for the next callback if
        # it is still empty and nobody else holds it, else leave it to the
        # handle (as if it had been the handle's own copy) and make a new
        # spare when next needed. Order matters for get_context() on other
        # threads: the slot is emptied before the reference count is read.
        cdef PyObject *s = <PyObject *>self._spare_ctx
        cdef PyObject **slot = aio_ctx_slot(h)
        if _PyObject_Length_ptr(s) != 0:
            # The callback set a variable: the handle keeps the Context.
            self._spare_ctx = None
            return
        _Py_INCREF_ptr(<PyObject *>None)
        aio_slot_exchange(slot, <PyObject *>None)   # returns s: ours now
        if _Py_REFCNT_ptr(s) > 2:
            # Held elsewhere besides the loop and the reference just taken
            # back (a Token, a get_context() caller): not reusable.
            if aio_slot_cas(slot, <PyObject *>None, s):
                _Py_DECREF_ptr(<PyObject *>None)
            else:
                _Py_DECREF_ptr(s)
            self._spare_ctx = None
        else:
            _Py_DECREF_ptr(s)

    cdef int _report_callback_error(self, Handle h, BaseException exc) except -1:
        if _format_callback_takes_debug:
            cb = _format_callback_source(h._callback, h._args, debug=self._debug)
        else:
            cb = _format_callback_source(h._callback, h._args)
        context = {
            'message': f'Exception in callback {cb}',
            'exception': exc,
            'handle': h,
        }
        if h._source_traceback:
            context['source_traceback'] = h._source_traceback
        self.call_exception_handler(context)
        return 0

    cdef int _run_once(self) except -1:
        cdef int timeout_ms, n, i, fd
        cdef uint32_t ev
        cdef double delta, end = 0
        cdef Py_ssize_t ntodo
        cdef TimerHandle t
        cdef Handle h
        cdef FdWatcher w
        cdef TimerHeap timers = self._timers
        cdef ReadyQueue ready = self._ready
        cdef Poller poller = self._poller
        cdef FdTable fdtable = self._fdtable
        # Whether the clock is ours (_clock_is_ours), asked at most once per
        # pass and only when a timer needs the time: -1 not asked yet.
        cdef int stock_clock = -1

        self._check_fork()
        self._n_passes += 1
        timers.maybe_compact()
        timers.drop_cancelled_top()

        cdef CycleHook hook = self._hook
        # Published for placement by other threads (LoopRemote.load()).
        aio_store_ssize_relaxed(&self._published_load, ready.count)
        if ready.count or self._stopping or self._inbox.spare_left:
            timeout_ms = 0
        elif timers.size:
            stock_clock = _clock_is_ours(self)
            delta = timers.top()._when - (_monotonic() if stock_clock else <double>self.time())
            if delta <= 0:
                timeout_ms = 0
            elif delta * 1000.0 >= _MAX_POLL_MS:
                timeout_ms = _MAX_POLL_MS
            else:
                timeout_ms = <int>ceil(delta * 1000.0)
        else:
            timeout_ms = -1
        if timeout_ms != 0 and hook is not None and hook.before_sleep() > 0:
            timeout_ms = 0      # it found work (stolen)
        if timeout_ms != 0 and not self._inbox.prepare_sleep():
            timeout_ms = 0
        if timeout_ms != 0 and hook is not None and hook.has_work():
            # Published after `sleeping` was stored: the producer may not
            # have seen it. Do not block.
            self._inbox.cancel_sleep()
            timeout_ms = 0

        if timeout_ms == 0 and poller.nregistered == self._n_quiet_fds:
            # Nothing but the waker (and quiet fds) is in the epoll set, and
            # a zero-timeout poll needs no waking: skip the syscall
            # (callback-only work, such as a chain of sleep(0)s, then makes
            # none at all).
            n = 0
        else:
            n = poller.wait(timeout_ms)
            self._n_polls += 1
        if timeout_ms != 0 and hook is not None:
            hook.after_sleep()
        if self._wall_cache:
            self._cache_wall_clock()
        # Bounded: a flood from other threads waits its turn in batches,
        # and timers and I/O are served between them (loop/inbox.pyx).
        self._inbox.drain_into(ready, _INBOX_BATCH)
        if hook is not None:
            hook.after_poll()
        if n < 0:
            # EINTR: run Python-level signal handlers now (this is where
            # KeyboardInterrupt surfaces, as from asyncio's select()).
            n = 0
            PyErr_CheckSignals()

        # The poller has consumed the waker's events and dropped stale ones:
        # each event left is for an fd the table holds a watcher for.
        for i in range(n):
            fd = poller.events[i].data.fd
            w = fdtable.watcher(fd)
            if w is None:
                poller.discard(fd)      # the table and the poller disagree
                continue
            self._n_io_events += 1
            w.on_events(self, poller.events[i].events)

        # Timers due now, plus the clock's resolution (as asyncio): a timer
        # for "now" never waits for another pass.
        if timers.size:
            if stock_clock < 0:
                stock_clock = _clock_is_ours(self)
            end = (_monotonic() if stock_clock else <double>self.time()) + self._clock_resolution
        while timers.size:
            t = timers.top()
            if t._cancelled:
                t = None
                _gc_unpark(timers.pop())
                continue
            if t._when >= end:
                break
            ready.push(timers.pop())

        ntodo = ready.count
        while ntodo > 0:
            ntodo -= 1
            item = ready.pop()
            # The queue holds Handles (and subclasses: TimerHandle, the
            # scheduler's SchedHandle) and FdWatchers, nothing else. The two
            # type compares catch the common Handles without a call;
            # isinstance(item, Handle) would walk a transport's whole MRO
            # for every I/O event, while FdWatcher sits near its top.
            if (type(item) is Handle or type(item) is TimerHandle
                    or not isinstance(item, FdWatcher)):
                h = <Handle>item
                item = None     # one local reference, for _gc_unpark's count
                try:
                    if not h._cancelled:
                        self._run_handle(h)
                finally:
                    # Also when KeyboardInterrupt/SystemExit escapes the
                    # callback: a handle dropped while parked would free its
                    # parked (untracked) Context, which crashes CPython.
                    _gc_unpark(h)
            else:
                w = <FdWatcher>item
                ev = w.revents
                w.revents = 0
                w.queued = False
                self._dispatch_io(w, ev)
        return 0

    cdef int _dispatch_io(self, FdWatcher w, uint32_t events) except -1:
        # A transport handles its own errors (connection_lost etc.); anything
        # escaping is a bug in it and must not take the loop down. A watcher
        # with a context (a transport) is dispatched in it, as asyncio runs a
        # transport's reader and writer callbacks in their Handles' context.
        # No try/finally: the handlers below leave the context first.
        cdef PyObject *ctx = <PyObject *>w.context
        cdef bint entered = False
        try:
            if ctx != <PyObject *>None:
                _PyContext_Enter_ptr(ctx)
                entered = True
            w.dispatch(events)
            if entered:
                entered = False
                _PyContext_Exit_ptr(ctx)
        except (SystemExit, KeyboardInterrupt):
            if entered:
                _PyContext_Exit_ptr(ctx)
            raise
        except BaseException as exc:
            if entered:
                _PyContext_Exit_ptr(ctx)
            self.call_exception_handler({
                'message': f'Exception in I/O dispatch of {w!r}',
                'exception': exc,
            })
        self._n_callbacks += 1
        return 0

    def run_forever(self):
        """Run until stop() is called. Raises RuntimeError if the loop is
        closed, already running, another loop runs in this thread, or the
        loop was inherited across fork()."""
        self._check_closed_c()
        self._check_fork()
        self._check_running()
        self._set_coroutine_origin_tracking(self._debug)
        self._old_agen_hooks = _get_asyncgen_hooks()
        aio_store_ulong(&self._tid, PyThread_get_thread_ident())
        aio_store_flag(&self._running, 1)
        try:
            _set_asyncgen_hooks(firstiter=self._asyncgen_firstiter_hook,
                                finalizer=self._asyncgen_finalizer_hook)
            _set_running_loop(self)
            while True:
                self._run_once()
                if self._stopping:
                    break
        finally:
            self._stopping = False
            aio_store_flag(&self._running, 0)
            aio_store_ulong(&self._tid, 0)
            _set_running_loop(None)
            self._set_coroutine_origin_tracking(False)
            if self._old_agen_hooks is not None:
                _set_asyncgen_hooks(*self._old_agen_hooks)
                self._old_agen_hooks = None

    def stop(self):
        """Stop after the current pass of callbacks (or after one pass, if
        the loop is not running yet)."""
        self._stopping = True

    def close(self):
        """Close the loop: drop pending callbacks and timers, release the
        epoll and eventfd descriptors, and shut the default executor down
        without waiting (as asyncio). Idempotent. RuntimeError if running."""
        if self._running:
            raise RuntimeError("Cannot close a running event loop")
        if self._closed:
            return
        if self._debug:
            _logger.debug("Close %r", self)
        aio_store_flag(&self._closed, 1)
        self._ready.clear()
        self._timers.clear()
        # Before the poller closes: no producer writes its eventfd after this.
        self._inbox.close()
        self._fdtable.clear()
        self._poller.close(self._fork_gen != _fork_generation)
        self._executor_shutdown_called = True
        executor = self._default_executor
        if executor is not None:
            self._default_executor = None
            executor.shutdown(wait=False)

    # --- readers and writers (the fd table: loop/fdtable.pyx) ---------------

    cdef _add_fd_callback(self, fileobj, bint reading, callback, tuple args):
        self._check_closed_c()
        cdef int fd = _fileobj_to_fd(fileobj)
        cdef str method = 'add_reader' if reading else 'add_writer'
        cdef Handle h = self._make_handle(Handle.__new__(Handle), callback,
                                          args, None, method, False)
        return self._fdtable.add_callback(fd, fileobj, reading, h)

    # add_reader() & co. are NetLoop's (net/netloop.pyx): they also refuse an
    # fd that a transport owns, which needs the transport classes.


_CORE_TIME = EventLoopCore.__dict__['time']


cdef inline bint _clock_is_ours(EventLoopCore loop) noexcept:
    # False when the loop's clock is not ours: asyncio's run cycle and
    # call_later() ask self.time(), and tests (aiohttp's among them) replace
    # it with mock.patch.object(loop, 'time'), override it in a subclass, or
    # patch the class or time.monotonic. Then the cycle calls loop.time() too.
    # A flag, a dict lookup and a cached MRO lookup, no allocation. (A `time`
    # written into loop.__dict__ directly, bypassing setattr, goes unnoticed.)
    return (not loop._time_on_instance and not _monotonic_patched() and
            _PyType_Lookup(Py_TYPE(loop), _TIME) == <PyObject *>_CORE_TIME)
