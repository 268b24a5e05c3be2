# The door into a Loop from the layers above it (DESIGN.md: "the multi-core
# layer and the daemon pool reach a Loop only through a small cross-thread
# handle"), as tokio's workers hold a `Remote` and never another worker's
# `Core`.
#
# LoopRemote (loop.remote()) offers, to any thread:
#   post(cb, args, ctx, defer_wake)  queue a callback in the loop's inbox
#                                   (call_soon_threadsafe's engine); with
#                                   defer_wake the poster pays the eventfd
#                                   write later, with pay_wake(), GIL released
#   call_threadsafe(cb, args, ctx)  loop.call_soon_threadsafe(cb, *args,
#                                   context=ctx), without the Python call
#   kick()                          wake the loop if it sleeps: for a producer
#                                   that published work in a queue the loop's
#                                   CycleHook checks before sleeping
#   polling(), polling_flag()       whether the loop is inside epoll_wait
#   is_sleeping()                   whether it is (about to be) asleep
#   load()                          callbacks ready at its last pass plus its
#                                   inbox (a hint, for placement)
#   on_loop_thread(), runs_on(tid)  whether this thread (thread `tid`) runs it
#   accepting()                     whether it takes posts
# and, to the loop's own thread only, push_ready() and set_hook() (hook(),
# what set_hook() set, to any thread).
#
# CycleHook: the one pre-sleep hook of the run cycle (set once, before the
# loop runs; None costs one pointer test per pass):
#   after_poll()    after the inbox drain: move work into the ready queue
#                   (bounded per pass); returns what it moved
#   has_work()      after prepare_sleep() stored `sleeping`: is there work it
#                   would move? (the loop then does not block; the Dekker
#                   pair with producers that kick() after publishing)
#   before_sleep()  nothing is ready and no timer is due: find work elsewhere
#                   (stealing); > 0 if it pushed some
#   after_sleep()   the loop returned from a blocking poll

from aioloop.includes.atomics cimport *


cdef class CycleHook:
    cdef Py_ssize_t after_poll(self) except -1:
        return 0

    cdef bint has_work(self) noexcept:
        return False

    cdef Py_ssize_t before_sleep(self) except -1:
        return 0

    cdef void after_sleep(self) noexcept:
        pass


@cython.final
cdef class LoopRemote:
    def __init__(self):
        raise TypeError('a LoopRemote comes from its loop (loop._remote())')

    cdef Handle post(self, object callback, tuple args, object context, bint defer_wake):
        return self._loop._post_threadsafe(callback, args, context, defer_wake)

    cdef Handle call_threadsafe(self, object callback, tuple args, object context):
        return self._loop._call_soon_threadsafe(callback, args, context)

    cdef void pay_wake(self) noexcept nogil:
        self._inbox.pay_wake()

    cdef int kick(self) noexcept nogil:
        return self._inbox.kick()

    cdef bint polling(self) noexcept nogil:
        return aio_load_acquire(&self._poller.polling) != 0

    cdef const int *polling_flag(self) noexcept nogil:
        return &self._poller.polling

    cdef bint is_sleeping(self) noexcept nogil:
        return aio_load_seq(&self._inbox.sleeping) != 0

    cdef Py_ssize_t load(self) noexcept nogil:
        return (aio_load_ssize_relaxed(&self._loop._published_load) +
                aio_load_ssize_relaxed(&self._inbox.count))

    cdef bint on_loop_thread(self) noexcept:
        return self.runs_on(PyThread_get_thread_ident())

    cdef bint runs_on(self, unsigned long tid) noexcept nogil:
        # `_running` first: run_forever() stores `_tid` before its release
        # store of `_running`, so a loop seen running has its runner's tid
        # visible (never an earlier runner's).
        return (aio_load_flag(&self._loop._running) and
                aio_load_ulong(&self._loop._tid) == tid)

    cdef bint accepting(self) noexcept:
        return not aio_load_flag(&self._loop._closed)

    cdef int push_ready(self, Handle h) except -1:
        # A handle made without a loop (a Scheduler's SchedHandle) becomes
        # this loop's when it enters the ready queue.
        h._loop = self._loop
        return self._loop._ready.push(h)

    cdef int set_hook(self, CycleHook hook) except -1:
        if self._loop._running:
            raise RuntimeError('cannot set a cycle hook on a running loop')
        self._loop._hook = hook
        return 0

    cdef CycleHook hook(self):
        # Set before the loop runs, never changed after: any thread reads it.
        return self._loop._hook


cdef LoopRemote _new_remote(EventLoopCore loop):
    cdef LoopRemote r = LoopRemote.__new__(LoopRemote)
    r._loop = loop
    r._inbox = loop._inbox
    r._poller = loop._poller
    return r
