# User readers and writers (add_reader/add_writer and friends).
#
# asyncio's selector loop maps epoll's ERR/HUP to *both* read and write
# readiness (selectors.EpollSelector): a reader learns of a hangup by reading
# EOF, a writer by its next write failing. We do the same.

from aioloop.includes.linux cimport EPOLLIN, EPOLLOUT


cdef class FdWatcher:
    cdef int on_events(self, EventLoopCore loop, uint32_t events) except -1:
        # A transport's readiness: queue the watcher itself, not a Handle, in
        # the ready queue. It runs where asyncio would run the transport's
        # reader/writer Handle (behind the callbacks already ready, before
        # the timers that come due), so callback ordering is asyncio's, and
        # nothing is allocated per event.
        self.revents |= events
        if not self.queued:
            self.queued = True
            loop._ready.push_obj(self)
        return 0

    cdef int dispatch(self, uint32_t events) except -1:
        return 0

    cdef bint admits_readers(self):
        # May add_reader()/add_writer() share this watcher's fd? asyncio
        # allows it on a closing socket transport's fd (transports/socket.pyx).
        return False


cdef class ReaderWriter(FdWatcher):
    cdef int on_events(self, EventLoopCore loop, uint32_t events) except -1:
        # Read both before queueing: queueing cannot change them, but a
        # cancelled reader's removal below may drop this watcher.
        cdef Handle reader = self.reader
        cdef Handle writer = self.writer
        cdef FdWatcher transport = self.transport
        cdef uint32_t shared = transport.mask if transport is not None else 0
        cdef uint32_t idle = 0
        if events & ~EPOLLOUT and self.mask & EPOLLIN:
            if reader is None:
                idle |= EPOLLIN     # left registered by a lazy removal
            elif reader._cancelled:
                loop._fdtable.remove_callback(self.fd, True)
            else:
                loop._ready.push(reader)
        if events & ~EPOLLIN and self.mask & EPOLLOUT:
            if writer is None:
                idle |= EPOLLOUT
            elif writer._cancelled:
                loop._fdtable.remove_callback(self.fd, False)
            else:
                loop._ready.push(writer)
        idle &= ~shared
        if idle:
            loop._fdtable.drop_bits(self, idle)
        # The closing transport's own events go to it, after the callbacks
        # (asyncio has them in one selector key: reader, then writer).
        if (shared & EPOLLIN and events & ~EPOLLOUT or
                shared & EPOLLOUT and events & ~EPOLLIN):
            transport.on_events(loop, events)
        return 0
