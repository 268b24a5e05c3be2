# Type stubs for aioloop's compiled core (aioloop/_core.pyx).
import asyncio
import concurrent.futures
import contextvars
from typing import Any, Callable, TypeVar, Unpack, TypeVarTuple

_Ts = TypeVarTuple("_Ts")
_T = TypeVar("_T")

class Handle:
    """A scheduled callback (asyncio.Handle's interface)."""
    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...
    def get_context(self) -> contextvars.Context: ...

class TimerHandle(Handle):
    """A scheduled timer (asyncio.TimerHandle's interface)."""
    def when(self) -> float: ...

class DaemonPool(concurrent.futures.ThreadPoolExecutor):
    """The pool of threads for blocking calls; every Loop's default executor."""
    def __init__(self, max_workers: int | None = ..., thread_name_prefix: str = ...,
                 initializer: Callable[..., object] | None = ..., initargs: tuple[Any, ...] = ...) -> None: ...

class Loop(asyncio.AbstractEventLoop):
    """aioloop's event loop: asyncio.AbstractEventLoop with its run cycle,
    ready queue, timer heap, poller, inbox and transports in Cython."""
    slow_callback_duration: float
    def __init__(self) -> None: ...
    def call_soon(self, callback: Callable[[Unpack[_Ts]], object], *args: Unpack[_Ts],
                  context: contextvars.Context | None = ...) -> Handle: ...
    def call_soon_threadsafe(self, callback: Callable[[Unpack[_Ts]], object], *args: Unpack[_Ts],
                             context: contextvars.Context | None = ...) -> Handle: ...
    def call_later(self, delay: float, callback: Callable[[Unpack[_Ts]], object], *args: Unpack[_Ts],
                   context: contextvars.Context | None = ...) -> TimerHandle: ...
    def call_at(self, when: float, callback: Callable[[Unpack[_Ts]], object], *args: Unpack[_Ts],
                context: contextvars.Context | None = ...) -> TimerHandle: ...
    def stats(self) -> dict[str, int]:
        """Counters since the loop was made: callbacks run, polls, I/O events,
        timers scheduled, inbox wake-ups, current queue sizes, children
        watched and signal handlers installed."""
        ...

def new_event_loop() -> Loop: ...
