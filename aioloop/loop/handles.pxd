cdef class Handle:
    # A scheduled callback. Created and run on the loop's thread; cancel() may
    # be called from any thread holding a reference, as with asyncio (setting
    # a flag the loop reads before running the handle). Only the loop's own
    # thread (or any thread while the loop is not running) clears _callback,
    # _args and the context's GC parking: see Handle.cancel().
    cdef:
        readonly object _callback
        readonly tuple _args
        # The contextvars.Context the callback runs in, or None: the caller's
        # context was empty, so the loop runs it in its spare empty context
        # (see "Lazy contexts" in handles.pyx). Set at creation; after that
        # only with atomics (aio_ctx_slot): get_context() from any thread
        # may replace None, the loop thread publishes and takes back its
        # spare around a run.
        object _ctx
        readonly object _loop          # the EventLoopCore that runs it
        readonly bint _cancelled
        bint _ctx_parked               # _ctx untracked by the GC (see handles.pyx)
        readonly object _repr
        readonly object _source_traceback
        object __weakref__

    cdef void _clear(self) noexcept


cdef class TimerHandle(Handle):
    cdef:
        readonly double _when
        unsigned long long _seq        # tie-break: equal deadlines run FIFO
        # True while the handle sits in the loop's TimerHeap. Cleared when it
        # moves to the ready queue, so a late cancel() does not count as a
        # cancelled heap entry.
        readonly bint _scheduled
