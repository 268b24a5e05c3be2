# The network layer of the loop: sock_* methods, DNS, create_connection,
# create_server, datagram endpoints, TLS. Transports live in transports/.


cdef class NetLoop(EventLoopCore):
    pass
