"""Cross-thread synchronisation: TaskBarrier, TaskLock, Queue and Event.

asyncio's Lock, Barrier, Queue and Event are bound to one loop; these work
from any dispatch thread, any loop and any plain thread, in both styles
(callback style, libaio's, and asyncio style). They are implemented in C in
the extension (aioloop/sched/sync.pyx: its header states the thread
contract, the waking and cancellation rules); this module names them.
"""

from ._core import Event, Queue, TaskBarrier, TaskLock

__all__ = ("TaskBarrier", "TaskLock", "Queue", "Event")
