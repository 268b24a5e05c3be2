# The thread-safe inbox behind call_soon_threadsafe and the daemon pool's
# completions (and, later, the Scheduler's cross-thread sched()).
#
# Wake-up protocol (one eventfd write per sleep, not per call), a Dekker
# handshake on two atomic flags, sequentially consistent, so that the loop
# takes no lock in a pass where nobody posted:
#   loop:     sleeping = 1; if pending: sleeping = 0, don't sleep; else epoll_wait
#   producer: lock; append; pending = 1; if exchange(sleeping, 0): write(eventfd); unlock
#   loop:     after epoll_wait: sleeping = 0; if pending: lock; swap items
#             with spare; pending = 0; unlock
# Each side stores its flag before loading the other's: either the loop sees
# `pending` and does not block, or the producer sees `sleeping` and wakes it
# (or both: one spurious wake). The first producer to see `sleeping` clears
# it, so later ones skip the syscall.
#
# Other queues that feed the loop (the Scheduler's run queues) use the same
# handshake through kick(): publish the work (a seq_cst store), then
# kick() takes `sleeping` and writes the eventfd if the loop was going to
# sleep; the loop checks those queues after prepare_sleep() has stored
# `sleeping` (and backs out with cancel_sleep()).
#
# Bounded drain: one pass hands at most `limit` items to the ready queue
# (oldest first); the rest of the swapped-out batch stays with the consumer
# and goes first in the next pass, before anything posted since. A flood of
# call_soon_threadsafe() thus cannot starve the loop's timers and I/O: they
# are polled between batches.
#
# A producer that holds the GIL and is about to release it (a daemon-pool
# thread going back to wait for work) may defer its wake: put(defer=True)
# records the debt in `wake_owed` and pay_wake(), called without the GIL,
# writes the eventfd. The loop thread then wakes to a free GIL instead of
# waking, finding the GIL taken, and sleeping again until it is dropped.
#
# The eventfd is written with the lock held and only while not `closed`:
# close() sets `closed` under the lock before the loop closes the poller, so
# no producer ever writes to a closed descriptor, or to a reused number.
#
# fork(): the lock may be held at the moment of the fork by a thread that
# the child does not have (a daemon-pool thread in pay_wake(), which runs
# without the GIL, or on free-threaded CPython any producer), and the queue
# may be half-updated. The child's copy of the inbox belongs to the parent's
# loop, which the child cannot run anyway: it never locks it again. put()
# raises, pay_wake() and drain_into() do nothing, and close()/dealloc mark it
# closed and leave what it holds (a leak in the child, not a hang in fork()
# when asyncio's after-fork hook drops the last reference to a loop).

from cpython.ref cimport Py_INCREF, Py_XDECREF
from libc.stdlib cimport malloc, realloc, free
from aioloop.includes.pthread cimport *
from aioloop.includes.atomics cimport *


cdef class Inbox:
    def __cinit__(self, Poller poller):
        if pthread_mutex_init(&self.lock, NULL) != 0:
            raise MemoryError()
        self.poller = poller
        self.cap = 64
        self.count = 0
        self.sleeping = 0
        self.pending = 0
        self.wake_owed = False
        self.closed = False
        self.wakeups = 0
        self.fork_gen = _fork_generation
        self.items = <PyObject **>malloc(sizeof(PyObject *) * self.cap)
        self.spare_cap = 64
        self.spare_pos = 0
        self.spare_left = 0
        self.spare = <PyObject **>malloc(sizeof(PyObject *) * self.spare_cap)
        if self.items == NULL or self.spare == NULL:
            raise MemoryError()

    def __dealloc__(self):
        if self.fork_gen != _fork_generation:
            # An inherited inbox (see the top): nothing of it is touched.
            return
        self.close()
        free(self.items)
        free(self.spare)
        pthread_mutex_destroy(&self.lock)

    cdef int put(self, Handle h, bint defer=False) except -1:
        cdef bint closed
        if self.fork_gen != _fork_generation:
            # Refused as a closed inbox refuses: the parked handle and its
            # context go back to the collector before they are dropped.
            _gc_unpark_refused(h)
            raise RuntimeError(_FORKED_LOOP_MSG)
        pthread_mutex_lock(&self.lock)
        if self.closed or (self.count == self.cap and not self._grow_locked()):
            closed = self.closed
            pthread_mutex_unlock(&self.lock)
            _gc_unpark_refused(h)
            if closed:
                raise RuntimeError('Event loop is closed')
            raise MemoryError()
        Py_INCREF(h)
        self.items[self.count] = <PyObject *>h
        self.count += 1
        # `pending` changes only under the lock. Already set, it was set by
        # a producer that made the handshake since the last drain, and that
        # drain (which clears it under this lock) will take this item too.
        if not aio_load_relaxed(&self.pending) and aio_set_pending_and_take(
                &self.pending, &self.sleeping):
            if defer:
                self.wake_owed = True
            else:
                self.wakeups += 1
                self.poller.wake()
        pthread_mutex_unlock(&self.lock)
        return 0

    cdef bint _grow_locked(self) noexcept nogil:
        """Double `items` (lock held); False when out of memory."""
        cdef PyObject **grown = <PyObject **>realloc(
            self.items, sizeof(PyObject *) * self.cap * 2)
        if grown == NULL:
            return False
        self.items = grown
        self.cap *= 2
        return True

    cdef void pay_wake(self) noexcept nogil:
        """Write the eventfd if a put(defer=True) owes the loop a wake."""
        if self.fork_gen != _fork_generation:
            return
        pthread_mutex_lock(&self.lock)
        if self.wake_owed:
            self.wake_owed = False
            if not self.closed:
                self.wakeups += 1
                self.poller.wake()
        pthread_mutex_unlock(&self.lock)

    cdef bint prepare_sleep(self) noexcept:
        """Called by the loop before a blocking poll. False when items are
        waiting (the loop must not block); True when a producer will wake it."""
        aio_store_seq(&self.sleeping, 1)
        if aio_load_seq(&self.pending):
            aio_store_seq(&self.sleeping, 0)
            return False
        return True

    cdef Py_ssize_t drain_into(self, ReadyQueue q, Py_ssize_t limit=-1) except -1:
        """Move up to `limit` queued handles (all if negative) to `q`, in
        order. Returns how many are still waiting in the consumer's batch:
        the loop must not block while that is non-zero."""
        cdef PyObject **batch
        cdef Py_ssize_t i, n, end, batch_cap
        aio_store_seq(&self.sleeping, 0)
        if self.spare_left == 0:
            if not aio_load_seq(&self.pending):
                return 0
            if self.fork_gen != _fork_generation:
                return 0
            pthread_mutex_lock(&self.lock)
            # The loop is awake and takes the items now: an owed wake would only
            # make its next poll return at once.
            self.wake_owed = False
            aio_store_seq(&self.pending, 0)
            n = self.count
            if n == 0:
                pthread_mutex_unlock(&self.lock)
                return 0
            # The consumer's batch is empty (spare_left == 0): swap it in.
            batch = self.items
            batch_cap = self.cap
            self.items = self.spare
            self.cap = self.spare_cap
            self.count = 0
            pthread_mutex_unlock(&self.lock)
            self.spare = batch
            self.spare_cap = batch_cap
            self.spare_pos = 0
            self.spare_left = n
        batch = self.spare
        i = self.spare_pos
        end = i + self.spare_left
        if limit >= 0 and end - i > limit:
            end = i + limit
        # Push in order; on MemoryError the remaining references of this
        # batch are released so nothing leaks (the callbacks are lost, as
        # with any allocation failure while scheduling).
        try:
            while i < end:
                q.push(<Handle>batch[i])
                Py_XDECREF(batch[i])
                batch[i] = NULL
                i += 1
        except MemoryError:
            end = self.spare_pos + self.spare_left
            while i < end:
                _gc_release(batch[i])
                batch[i] = NULL
                i += 1
            self.spare_pos = 0
            self.spare_left = 0
            raise
        self.spare_left -= i - self.spare_pos
        self.spare_pos = 0 if self.spare_left == 0 else i
        return self.spare_left

    cdef int kick(self) noexcept nogil:
        """Wake the loop if it is (about to be) asleep in epoll_wait; for a
        producer that has just published work in a queue the loop checks
        after prepare_sleep(). Any thread. Returns 1 if it wrote the eventfd."""
        # A load first: while the loop is awake (a flood) the producer reads
        # the line instead of taking it from the loop's core with a locked
        # exchange. A seq_cst load that sees 0 suffices for the handshake:
        # `sleeping = 1` comes later in the single total order, so the loop's
        # check after it sees the work published before this load.
        if not aio_load_seq(&self.sleeping) or not aio_exchange_seq(&self.sleeping, 0):
            return 0
        if self.fork_gen != _fork_generation:
            return 0
        pthread_mutex_lock(&self.lock)
        if not self.closed:
            self.wakeups += 1
            self.poller.wake()
        pthread_mutex_unlock(&self.lock)
        return 1

    cdef void cancel_sleep(self) noexcept nogil:
        """The loop found work after prepare_sleep(): it will not block."""
        aio_store_seq(&self.sleeping, 0)

    cdef void close(self) noexcept:
        """Refuse further puts and drop what is queued (Loop.close())."""
        cdef PyObject **batch
        cdef Py_ssize_t i, n
        if self.items == NULL:
            return
        if self.fork_gen != _fork_generation:
            self.closed = True
            return
        # The consumer's unfinished batch first (close() runs on the loop's
        # thread, the consumer).
        for i in range(self.spare_pos, self.spare_pos + self.spare_left):
            _gc_release(self.spare[i])
            self.spare[i] = NULL
        self.spare_pos = 0
        self.spare_left = 0
        pthread_mutex_lock(&self.lock)
        self.closed = True
        n = self.count
        batch = self.items
        self.items = self.spare
        self.cap, self.spare_cap = self.spare_cap, self.cap
        self.count = 0
        aio_store_seq(&self.pending, 0)
        pthread_mutex_unlock(&self.lock)
        self.spare = batch
        for i in range(n):
            _gc_release(batch[i])

    def __len__(self):
        cdef Py_ssize_t n
        if self.fork_gen != _fork_generation:
            return self.count + self.spare_left
        pthread_mutex_lock(&self.lock)
        n = self.count
        pthread_mutex_unlock(&self.lock)
        # spare_left: the consumer's; exact on the loop's thread, a hint elsewhere.
        return n + aio_load_ssize_relaxed(&self.spare_left)
