import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

from ._core import DaemonPool as DaemonPool, Loop as Loop, new_event_loop as new_event_loop

_T = TypeVar("_T")

class EventLoopPolicy(asyncio.events.BaseDefaultEventLoopPolicy): ...

def install() -> None: ...
def run(main: Coroutine[Any, Any, _T], *, debug: bool | None = ..., **runner_kwargs: Any) -> _T: ...
