cdef class DatagramTransport(SocketTransport):
    # A UDP or Unix datagram socket: asyncio.DatagramTransport. Datagrams the
    # kernel refuses wait in `_dq` as (bytes, address) until EPOLLOUT.
    cdef:
        object _address         # connected peer (remote_addr), or None
        object _dq              # collections.deque of (bytes, addr)
        Py_ssize_t _dq_size     # bytes queued (+ _DGRAM_HEADER per datagram, as asyncio)

    cdef int _read_ready(self) except -1
    cdef int _sendto_ready(self) except -1
