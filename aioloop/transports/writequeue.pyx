# The write queue of stream and pipe transports. write() sends at once; only
# what the kernel refused lands here, and is written out with writev() when
# the fd is writable again. What the transport does around it (EPOLLOUT,
# flow control, errors) stays in the transport.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE, PyBytes_CheckExact
from aioloop.includes.linux cimport errno, EAGAIN, EINTR
from aioloop.includes.sockets cimport iovec, writev

cdef enum:
    _IOV_BATCH = 64     # iovecs per writev(); the kernel allows IOV_MAX (1024)


@cython.final
cdef class WriteQueue:

    cdef int push(self, object data, Py_ssize_t written) except -1:
        """Queue what is left of data once its first `written` bytes are out."""
        # Queued data must be immutable: a caller may reuse its bytearray.
        if not PyBytes_CheckExact(data):
            data = bytes(data)
        if self.items is None:
            self.items = []
        self.items.append(data)
        if len(self.items) - self.head == 1:
            self.offset = written
        self.size += PyBytes_GET_SIZE(data) - written
        return 0

    cdef Py_ssize_t write_to(self, int fd, int *err) except -2:
        """writev() to fd as much of the queue as it takes, and drop that.
        Returns the bytes written (0 when fd would block), or -1 with *err
        set to errno when writev() failed otherwise (the queue is then as it
        was: the transport decides what a failure means)."""
        cdef iovec iov[_IOV_BATCH]
        cdef Py_ssize_t k, cnt, total = 0
        cdef ssize_t n
        cdef int e
        cdef list items = self.items
        if not self.size:
            return 0
        while self.size:
            cnt = min(len(items) - self.head, _IOV_BATCH)
            for k in range(cnt):
                item = items[self.head + k]
                iov[k].iov_base = PyBytes_AS_STRING(item)
                iov[k].iov_len = PyBytes_GET_SIZE(item)
            iov[0].iov_base = <char *>iov[0].iov_base + self.offset
            iov[0].iov_len -= self.offset
            n = writev(fd, iov, <int>cnt)
            if n < 0:
                e = errno
                if e == EAGAIN or e == EINTR:
                    break
                err[0] = e
                return -1
            total += n
            self.size -= n
            # Drop what was written.
            while n > 0:
                item = items[self.head]
                k = PyBytes_GET_SIZE(item) - self.offset
                if n >= k:
                    n -= k
                    items[self.head] = None
                    self.head += 1
                    self.offset = 0
                else:
                    self.offset += n
                    n = 0
            if self.size and self.offset:
                break   # a partial write: the kernel's buffer is full
        if self.head == len(items):
            del items[:]
            self.head = 0
        elif self.head > 64 and self.head * 2 > len(items):
            # Compact now and then, not on every write: the list's front
            # holds Nones for what was written.
            del items[:self.head]
            self.head = 0
        return total

    cdef int clear(self) except -1:
        """Drop everything queued (the transport is closing)."""
        self.items = None
        self.head = 0
        self.offset = 0
        self.size = 0
        return 0
