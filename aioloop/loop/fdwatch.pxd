from libc.stdint cimport uint32_t

cdef class FdWatcher:
    # Whatever the poller reports readiness to for one fd: the user's
    # reader/writer pair here; transports (in their own files) later. The loop
    # keeps one per watched fd in its fd table. Loop thread only.
    cdef:
        readonly int fd
        uint32_t mask       # the epoll events it asks the poller for (fdtable.pyx)
        uint32_t revents    # events seen by the poller, not yet dispatched
        bint queued         # self is in the loop's ready queue
        # The contextvars.Context dispatch() runs in (a transport's: see
        # FdTransport), or None for the loop's own context.
        object context

    cdef int on_events(self, EventLoopCore loop, uint32_t events) except -1
    cdef int dispatch(self, uint32_t events) except -1
    cdef bint admits_readers(self)


cdef class ReaderWriter(FdWatcher):
    # add_reader/add_writer: Handles queued on readiness (level-triggered,
    # like asyncio's selector loop).
    cdef:
        Handle reader
        Handle writer
        # The object first registered for this fd (as asyncio's SelectorKey
        # keeps it): remove_reader/remove_writer find it by identity once its
        # fileno() no longer works (a closed socket says -1).
        object fileobj
        object lazy_ref     # weakref to the file object of a lazy removal
        # A closing transport whose fd this is (see FdTable.add_callback):
        # its `mask` is what it still wants, included in ours; it gets those
        # events from on_events(). Until its connection_lost() (FdTable.detach).
        FdWatcher transport
