# Type stubs for aioloop.aio, libaio's callback-style API: exactly the names
# of aioloop.aio.__all__ (tests/test_stubs.py checks both ways), with their
# signatures from the runtime code.
import os
import resource
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple, TypeAlias

__all__ = ["ainit", "amain", "aexit",
           "Waitmsg", "sig_install", "add_child_handler",
           "remove_child_handler", "afork", "aspawn"]

_StrOrBytesPath: TypeAlias = str | bytes | os.PathLike[str] | os.PathLike[bytes]

# --- the life cycle ----------------------------------------------------------

def ainit(nthr: int | None = None, naiod: int = 4) -> None:
    """Configure the scheduler: nthr dispatch threads (default
    os.cpu_count()), naiod daemon threads."""
    ...

def amain() -> Any:
    """Run the dispatch threads, the caller as thread 0, until aexit; return
    the status given to it."""
    ...

def aexit(status: object = None) -> None:
    """End amain(), which returns status; from any thread or callback."""
    ...

# --- signals and processes -----------------------------------------------------

class Waitmsg(NamedTuple):
    """How a child ended: exit status or killing signal, and its rusage
    (all None if someone else reaped it)."""
    pid: int
    status: int | None
    signal: int | None
    rusage: resource.struct_rusage | None

def sig_install(fn: Callable[[int], object] | None, sig: int) -> Callable[[int], object] | None:
    """Install fn(signum) as the handler of signal sig, run as a task;
    None restores the default. Returns the handler it replaces."""
    ...

def add_child_handler(fn: Callable[[Waitmsg], object], pid: int) -> Callable[[Waitmsg], object] | None:
    """Run fn(waitmsg) as a task when child pid exits (it is reaped then);
    returns the handler it replaces for that pid."""
    ...

def remove_child_handler(pid: int) -> Callable[[Waitmsg], object] | None:
    """Remove the handler of child pid and return it (None if none)."""
    ...

def afork() -> int:
    """fork() while the scheduler keeps running; 0 in the child, where aio
    starts idle."""
    ...

def aspawn(path: _StrOrBytesPath, argv: list[_StrOrBytesPath] | tuple[_StrOrBytesPath, ...],
           env: Mapping[str | bytes, str | bytes] | None = None,
           fn: Callable[[], object] | None = None) -> int:
    """fork and exec path with argv and env, fn() in the child before exec;
    returns the pid. Exec errors are OSError in the parent."""
    ...
