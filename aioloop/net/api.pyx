# The network layer of the loop, part 2 (Python): the methods asyncio
# implements portably over any loop's transports and readers/writers —
# address resolution, create_connection (happy eyeballs via
# asyncio.staggered), create_server and its Server, Unix sockets, datagram
# endpoints, start_tls, sendfile fallbacks, and the sock_* coroutines. They
# are asyncio's own functions, bound to our loop, so argument checking, error
# messages and ordering are each Python version's exactly; underneath they
# reach only our C layer: _make_socket_transport, _make_ssl_transport,
# _make_datagram_transport, _add_reader & co., _stop_serving and
# _sendfile_native (net/netloop.pyx).

import asyncio.selector_events as _selector_events
import asyncio.unix_events as _unix_events

_NET_FROM_BASE = (
    'getaddrinfo', '_getaddrinfo_debug', 'getnameinfo', '_ensure_resolved',
    'create_connection', '_connect_sock', '_create_connection_transport',
    'create_server', '_create_server_getaddrinfo', 'connect_accepted_socket',
    'create_datagram_endpoint', 'start_tls',
    'sendfile', '_sendfile_fallback',
    'sock_sendfile', '_sock_sendfile_fallback', '_check_sendfile_params',
)
_NET_FROM_SELECTOR = (
    'sock_recv', '_sock_recv', 'sock_recv_into', '_sock_recv_into',
    'sock_recvfrom', '_sock_recvfrom', 'sock_recvfrom_into', '_sock_recvfrom_into',
    'sock_sendall', '_sock_sendall', 'sock_sendto', '_sock_sendto',
    'sock_connect', '_sock_connect', '_sock_connect_cb',
    'sock_accept', '_sock_accept',
    '_sock_read_done', '_sock_write_done',
    '_accept_connection', '_accept_connection2', '_start_serving',
)
_NET_FROM_UNIX = (
    'create_unix_connection', 'create_unix_server',
    '_sock_sendfile_native', '_sock_sendfile_native_impl',
    '_sock_add_cancellation_callback', '_sock_sendfile_update_filepos',
)


def _borrow(cls, names):
    found = {}
    for name in names:
        func = cls.__dict__.get(name)
        if func is None:
            continue        # not in this Python version
        # A function using zero-argument super() is bound to its own class
        # and cannot serve ours.
        assert '__class__' not in getattr(func, '__code__', _borrow.__code__).co_freevars, name
        found[name] = func
    return found


NetworkMethods = type('NetworkMethods', (), {
    '__doc__': 'asyncio\'s portable network methods, bound to aioloop\'s loop.',
    '__module__': __name__,
    **_borrow(_base_events.BaseEventLoop, _NET_FROM_BASE),
    **_borrow(_selector_events.BaseSelectorEventLoop, _NET_FROM_SELECTOR),
    **_borrow(_unix_events._UnixSelectorEventLoop, _NET_FROM_UNIX),
})
