# cython: language_level=3
# The one extension module of aioloop, assembled from one file per concern.
# Layers (DESIGN.md), from the kernel up:
#   includes/stdlib.pxi  every Python module the extension imports, once
#   kernel/  the poller: epoll registrations and waits, the eventfd waker
#   loop/    one thread: handles, ready queue, timer heap, inbox, fd watchers,
#            the fd table, the run cycle, and the asyncio-facing Loop class
#            with the asyncio methods it borrows (one checked manifest,
#            borrowed.pyx)
#   transports/  stream, datagram and pipe transports over the fd table; their
#            base FdTransport (with the one write() fast path), the socket
#            transports' shared state (socket.pyx), the write queue
#   net/     network methods: sock_*, DNS, connections, servers, TLS
#   unix/    signal handlers, child-exit watching (pidfd), subprocesses
#   sched/   the multi-core layer: the daemon pool (default executor), the
#            Scheduler's run queues and dispatch hooks (scheduler.py is its
#            Python half: threads, Spawned, shutdown), and the cross-thread
#            primitives TaskBarrier, TaskLock, Queue, Event (sync.pyx)

cimport cython

include "includes/stdlib.pxi"
include "kernel/poller.pyx"
include "loop/handles.pyx"
include "loop/ready.pyx"
include "loop/timers.pyx"
include "loop/inbox.pyx"
include "loop/fdwatch.pyx"
include "loop/remote.pyx"
include "loop/loop.pyx"
include "loop/fdtable.pyx"
include "transports/writequeue.pyx"
include "transports/fdtransport.pyx"
include "transports/socket.pyx"
include "transports/stream.pyx"
include "transports/datagram.pyx"
include "transports/pipes.pyx"
include "net/netloop.pyx"
include "unix/signals.pyx"
include "unix/children.pyx"
include "unix/subprocess.pyx"
include "unix/unixloop.pyx"
include "sched/daemon_pool.pyx"
include "sched/runqueue.pyx"
include "sched/dispatch.pyx"
include "sched/sync.pyx"
include "loop/borrowed.pyx"
include "loop/asyncio_api.pyx"
