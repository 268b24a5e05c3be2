from libc.stdint cimport uint32_t

cdef class FdTable:
    # One per loop; loop thread only. Which FdWatcher serves each fd, and
    # what each one asks the poller for (FdWatcher.mask).
    cdef:
        Poller poller
        list fds            # fd -> FdWatcher or None

    cdef inline FdWatcher watcher(self, int fd):
        if fd < len(self.fds):
            return <FdWatcher>self.fds[fd]
        return None
    cdef int clear(self) except -1
    cdef int set_mask(self, FdWatcher w, uint32_t mask) except -1
    cdef int forget(self, FdWatcher w, uint32_t mask) except -1
    cdef int attach(self, FdWatcher w) except -1
    cdef int detach(self, FdWatcher w) except -1
    cdef object add_callback(self, int fd, object fileobj, bint reading, Handle h)
    cdef object remove_callback(self, int fd, bint reading, bint lazy=*)
    cdef int drop_bits(self, ReaderWriter rw, uint32_t bits) except -1
    cdef int share_mask(self, ReaderWriter rw, uint32_t mask) except -1
    cdef int unshare_if_idle(self, ReaderWriter rw) except -1
    cdef int registered_fd(self, object fileobj) except -2
