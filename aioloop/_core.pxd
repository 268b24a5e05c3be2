# Declarations of every C type in the _core extension, one file per concern
# (see the .pyx of the same name for each one's implementation).
cimport cython

include "kernel/poller.pxd"
include "loop/handles.pxd"
include "loop/ready.pxd"
include "loop/timers.pxd"
include "loop/inbox.pxd"
include "loop/fdwatch.pxd"
include "loop/remote.pxd"
include "loop/loop.pxd"
include "net/netloop.pxd"
include "transports/writequeue.pxd"
include "transports/fdtransport.pxd"
include "transports/base.pxd"
include "transports/stream.pxd"
include "transports/datagram.pxd"
include "transports/pipes.pxd"
include "unix/signals.pxd"
include "unix/children.pxd"
include "unix/unixloop.pxd"
include "sched/daemon_pool.pxd"
