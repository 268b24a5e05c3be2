cdef class FdTransport(FdWatcher):
    # What every transport shares, socket or pipe: the loop, the protocol,
    # extra info, the closing state, poller registration, write flow control
    # and fatal errors. Loop thread only. `_loop` and `_protocol` become None
    # once connection_lost() has run.
    cdef:
        readonly EventLoopCore _loop
        object _protocol
        readonly dict _extra
        bint _closing           # close(), a fatal error or (pipes) EOF began
        # pause_reading() (transports that read). Readable as on asyncio's
        # transports (tests and libraries look at it); not writable, since
        # setting it would not change the poller registration.
        readonly bint _paused
        # Write flow control (asyncio.transports._FlowControlMixin): the
        # protocol is paused above _high_water bytes buffered, and resumed
        # once at most _low_water are left.
        Py_ssize_t _high_water
        Py_ssize_t _low_water
        # Read by asyncio's loop.sendfile() fallback
        # (base_events._SendfileFallbackProtocol).
        readonly bint _protocol_paused
        # What the kernel did not take yet (transports that write: never
        # None there; None in those that only read or have their own queue).
        WriteQueue _wq
        # Instance attributes shadow methods, as on asyncio's Python
        # transports: tests mock write(), pause_reading() & co. with
        # `transport.write = mock` or mock.patch.object(). The loop's C paths
        # never look a method up on the instance, so only Python callers
        # (protocols, streams, SSLProtocol) see a replacement, as on asyncio.
        # Cython makes the (empty) dict with the instance; 3.11's method
        # cache then costs a few instructions per Python-level call, where an
        # instance whose dict pointer is NULL is not specialised at all.
        dict __dict__
        object __weakref__      # asyncio's Server (3.13) keeps a WeakSet of clients

    cdef int _set_protocol(self, object protocol) except -1
    cdef int _want_read(self, bint on) except -1
    cdef int _want_write(self, bint on) except -1
    @cython.final
    cdef inline int _write(self, object data) except -1
    cdef ssize_t _write_syscall(self, const char *buf, Py_ssize_t size) noexcept
    cdef int _write_error(self, object exc) except -1
    cdef int _queue_gapped_view(self, object data) except -1
    cdef Py_ssize_t _write_buffer_size(self)
    cdef int _clear_write_buffer(self) except -1
    cdef int _maybe_pause_protocol(self) except -1
    cdef int _maybe_resume_protocol(self) except -1
    cdef int _call_exception_handler(self, str message, object exc) except -1
    cdef int _fatal_error(self, object exc, str message) except -1
    cdef int _write_failed(self, object exc, str message) except -1
    cpdef int _force_close(self, object exc) except -1
