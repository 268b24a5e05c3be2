# Handles: asyncio.Handle and asyncio.TimerHandle as C types with free lists.
#
# Garbage-collector tracking. A Handle sitting in the ready queue, the timer
# heap or the inbox is kept alive by the loop and cannot be garbage, so the
# collector gains nothing by traversing it; with 100k timers pending it would
# traverse them all on every collection. Handles are therefore untracked
# while queued (`_gc_park`) and tracked again when they leave the loop's
# queues, but only if someone else still holds them (`_gc_unpark`): only then
# can they be part of a cycle worth collecting (a user's object holding its
# TimerHandle whose callback is the object's bound method). Tracking is an
# optimisation for the collector, never for correctness of lifetimes, and
# PyObject_GC_Track is fatal on an object already tracked, hence the checks.
from aioloop.includes.python cimport *

#
# The contextvars.Context that call_soon() copies for a handle is parked with
# it (`_ctx_parked`): while queued it is reachable only through the handle.
# It is tracked again whenever the handle leaves the queues, whoever holds it:
# a Context must be tracked when it is freed (CPython's context_tp_dealloc
# unlinks it from the collector's list without checking).
cdef inline void _gc_park(object h) noexcept:
    if PyObject_GC_IsTracked(h):
        PyObject_GC_UnTrack(h)

cdef inline void _gc_park_context(Handle h) noexcept:
    if PyObject_GC_IsTracked(h._ctx):
        PyObject_GC_UnTrack(h._ctx)
        h._ctx_parked = True

cdef inline void _gc_unpark_context(Handle h) noexcept:
    h._ctx_parked = False
    if h._ctx is not None and not PyObject_GC_IsTracked(h._ctx):
        PyObject_GC_Track(h._ctx)

cdef inline void _gc_unpark(object h) noexcept:
    # `h` is the caller's own reference: more than one means a user holds it.
    cdef bint shared = Py_REFCNT(h) > 1
    if isinstance(h, Handle) and (<Handle>h)._ctx_parked:
        _gc_unpark_context(<Handle>h)
    if shared and not PyObject_GC_IsTracked(h):
        PyObject_GC_Track(h)

cdef inline void _gc_unpark_refused(object h) noexcept:
    # A queue refused a parked handle (out of memory growing it): the
    # caller's reference is about to be dropped with the exception.
    if isinstance(h, Handle) and (<Handle>h)._ctx_parked:
        _gc_unpark_context(<Handle>h)
    if not PyObject_GC_IsTracked(h):
        PyObject_GC_Track(h)

cdef inline void _gc_release(PyObject *p) noexcept:
    # Drop a queue's reference to a parked handle (clear(), close()).
    if p == NULL:
        return
    if isinstance(<object>p, Handle) and (<Handle>p)._ctx_parked:
        _gc_unpark_context(<Handle>p)
    if _Py_REFCNT_ptr(p) > 1 and not _PyObject_GC_IsTracked_ptr(p):
        _PyObject_GC_Track_ptr(p)
    Py_XDECREF(p)

# Lazy contexts. asyncio copies the caller's context for every callback
# (call_soon, call_later, call_soon_threadsafe), so that what the callback
# sets stays its own. When the caller's context is empty (a plain thread, or
# a task that set no variable) the copy is an empty Context, and a fresh empty
# Context cannot be told from any other empty one: no API hands out the
# current Context object itself, only copies. So such a handle keeps None and
# the loop runs it in a spare empty Context of its own, reused while it stays
# empty and unshared. That saves an allocation, GC tracking and a free per
# callback. The handle still answers get_context() exactly:
#
# - Before the run, get_context() creates the handle's Context (a CAS from
#   None, any thread), and the loop then runs the callback in that one.
# - During the run the spare is published in the handle's slot, so
#   get_context(), from the callback or from another thread, returns the very
#   Context the callback runs in.
# - After the run the loop keeps the spare only if it is still empty and no
#   one else took a reference; otherwise the handle keeps it (as if it had
#   been its own copy) and the loop makes a new spare.
#
# The slot is read and written with atomics. A reader takes a reference and
# checks the slot still holds the same object (else drops it and retries); the
# loop empties the slot before it reads the spare's reference count. So
# either the reader's reference is counted, or its re-check fails: a spare
# the loop reuses was never returned. Non-None values are never replaced but
# by the loop's own unpublishing, and the spare it unpublishes is still held
# by the loop, so a reader never increments a freed object.
cdef extern from *:
    """
    /* Cython's struct for Handle (it names only public classes' structs
       as asked): a change of name fails the build, never silently. */
    #define aio_ctx_slot(h) \
        (&((struct __pyx_obj_7aioloop_5_core_Handle *)(h))->_ctx)
    static inline PyObject *aio_slot_load(PyObject **slot) {
        return __atomic_load_n(slot, __ATOMIC_SEQ_CST);
    }
    static inline PyObject *aio_slot_exchange(PyObject **slot, PyObject *v) {
        return __atomic_exchange_n(slot, v, __ATOMIC_SEQ_CST);
    }
    static inline int aio_slot_cas(PyObject **slot, PyObject *expected,
                                   PyObject *desired) {
        return __atomic_compare_exchange_n(slot, &expected, desired, 0,
                                           __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    }
    /* A new reference the caller already owns, as an object. */
    static inline PyObject *aio_steal(PyObject *p) { return p; }
    /* Is the calling thread's current context empty? tstate->context is
       NULL until the thread first enters or asks for a context. A Context's
       length is its number of variables and cannot fail. */
    static inline int aio_current_context_empty(void) {
        PyObject *ctx = PyThreadState_Get()->context;
        return ctx == NULL || PyObject_Length(ctx) == 0;
    }
    """
    PyObject **aio_ctx_slot(Handle h)
    PyObject *aio_slot_load(PyObject **slot)
    PyObject *aio_slot_exchange(PyObject **slot, PyObject *v)
    bint aio_slot_cas(PyObject **slot, PyObject *expected, PyObject *desired)
    bint aio_current_context_empty()
    object PyContext_New()
    object _steal "aio_steal"(PyObject *)
    Py_ssize_t _PyObject_Length_ptr "PyObject_Length"(PyObject *)
    void _Py_INCREF_ptr "Py_INCREF"(PyObject *)
    void _Py_DECREF_ptr "Py_DECREF"(PyObject *)


cdef inline int _set_context(Handle h, object context, bint park) except -1:
    # A new handle's context: `context` as given, a copy of the caller's, or
    # None for an empty one (see "Lazy contexts"). With `park`, a copy (which
    # only the queued handle reaches) is untracked by the GC with it.
    if context is not None:
        h._ctx = context
    elif not aio_current_context_empty():
        h._ctx = PyContext_CopyCurrent()
        if park:
            _gc_park_context(h)
    return 0


cdef object _handle_context(Handle h):
    # get_context(), from any thread.
    cdef PyObject **slot = aio_ctx_slot(h)
    cdef PyObject *p
    cdef object fresh
    while True:
        p = aio_slot_load(slot)
        if p != <PyObject *>None:
            _Py_INCREF_ptr(p)
            if aio_slot_load(slot) == p:
                return _steal(p)
            _Py_DECREF_ptr(p)
            continue
        fresh = PyContext_New()
        if aio_slot_cas(slot, <PyObject *>None, <PyObject *>fresh):
            _Py_INCREF_ptr(<PyObject *>fresh)       # the slot's reference
            _Py_DECREF_ptr(<PyObject *>None)        # None's, which it held
            return fresh


# Their attributes keep asyncio's names (_callback, _args, _cancelled, ...)
# read-only, so asyncio's own helpers that format a handle or a context for the
# exception handler work on ours unchanged.

from cpython.ref cimport Py_XDECREF
from aioloop.includes.atomics cimport *

# asyncio.Handle._repr_info reads only public-by-convention attributes that our
# Handle exposes, and knows each Python version's formatting of a callback.
_aio_handle_repr_info = _events.Handle._repr_info


@cython.freelist(4096)
cdef class Handle:
    def __init__(self, *args, **kwargs):
        raise TypeError("aioloop handles are created by the loop (call_soon, call_later, ...)")

    cdef void _clear(self) noexcept:
        if self._ctx_parked:
            _gc_unpark_context(self)
        self._callback = None
        self._args = None

    def _repr_info(self):
        return _aio_handle_repr_info(self)

    def __repr__(self):
        if self._repr is not None:
            return self._repr
        return '<{}>'.format(' '.join(self._repr_info()))

    def get_context(self):
        return _handle_context(self)

    @property
    def _context(self):
        # asyncio's attribute name, read by some libraries and tests.
        return _handle_context(self)

    def cancel(self):
        cdef EventLoopCore loop = <EventLoopCore>self._loop
        if not self._cancelled:
            self._cancelled = True
            if (aio_load_flag(&loop._running) and
                    aio_load_ulong(&loop._tid) != PyThread_get_thread_ident()):
                # Another thread (a call_soon_threadsafe() caller) cancels
                # while the loop may be running this very handle: only the
                # flag is set. Dropping the callback here would free it under
                # the loop's feet and race its GC (un)parking of the context
                # (fatal "already tracked"), unless the GIL serialises the
                # two; the loop drops both when it lets the handle go.
                return
            if loop._debug:
                # Keep a representation for debugging: the callback is dropped.
                self._repr = repr(self)
            self._clear()

    def cancelled(self):
        return self._cancelled

    def _run(self):
        (<EventLoopCore>self._loop)._run_handle(self)


# Free-listed through Handle: Cython keeps free lists on base classes only.
cdef class TimerHandle(Handle):
    def _repr_info(self):
        info = _aio_handle_repr_info(self)
        info.insert(2 if self._cancelled else 1, f'when={self._when}')
        return info

    def when(self):
        """The absolute deadline, on the loop.time() clock."""
        return self._when

    def __hash__(self):
        return hash(self._when)

    def __richcmp__(self, other, int op):
        if not isinstance(other, TimerHandle):
            return NotImplemented
        cdef TimerHandle o = <TimerHandle>other
        if op == 0:
            return self._when < o._when
        if op == 1:
            return self._when <= o._when or self == o
        if op == 4:
            return self._when > o._when
        if op == 5:
            return self._when >= o._when or self == o
        eq = (self._when == o._when and self._callback == o._callback and
              self._args == o._args and self._cancelled == o._cancelled)
        return eq if op == 2 else not eq

    def cancel(self):
        if not self._cancelled:
            (<EventLoopCore>self._loop)._timer_cancelled(self)
            Handle.cancel(self)
