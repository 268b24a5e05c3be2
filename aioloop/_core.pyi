# Type stubs for aioloop's compiled core (aioloop/_core.pyx): the names a
# user meets (Loop, DaemonPool, new_event_loop, the handles call_soon & co.
# return, LoopExit). The rest of the module is the loop's machinery and is
# not part of the API.
#
# Loop declares every abstract method of asyncio.AbstractEventLoop, so that
# type checkers see a concrete class; the signatures are asyncio's (each one
# accepts every form asyncio's overloads accept), version by version where
# asyncio added a parameter.
import asyncio
import concurrent.futures
import contextvars
import os
import ssl
import sys
from collections.abc import Awaitable, Callable, Coroutine, Generator, Sequence
from socket import socket
from typing import IO, Any, Literal, TypeAlias, TypeVar, TypeVarTuple, Unpack

from typing_extensions import Buffer

_T = TypeVar("_T")
_Ts = TypeVarTuple("_Ts")
_ProtocolT = TypeVar("_ProtocolT", bound=asyncio.BaseProtocol)
_SSLContext: TypeAlias = bool | ssl.SSLContext | None
_Context: TypeAlias = dict[str, Any]
_ExceptionHandler: TypeAlias = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]
_TaskFactory: TypeAlias = Callable[..., asyncio.Future[Any]]
_FileDescriptorLike: TypeAlias = int | Any  # an int, or an object with fileno()
_Address: TypeAlias = tuple[Any, ...] | str | Buffer
_RetAddress: TypeAlias = Any

class Handle:
    """A scheduled callback: cancel(), cancelled(), get_context() as
    asyncio.Handle (C types cannot subclass asyncio.Handle, so a Handle is
    not an instance of it; Loop's methods are declared as returning
    asyncio.Handle, the interface asyncio promises)."""
    def cancel(self) -> None: ...
    def cancelled(self) -> bool: ...
    def get_context(self) -> contextvars.Context: ...

class TimerHandle(Handle):
    """A scheduled timer (asyncio.TimerHandle's interface)."""
    def when(self) -> float: ...

class LoopExit(BaseException):
    """A BaseException a callback may raise to end run_forever() with an
    error, as SystemExit and KeyboardInterrupt do."""

class DaemonPool(concurrent.futures.ThreadPoolExecutor):
    """The pool of threads for blocking calls; every Loop's default executor."""
    def __init__(self, max_workers: int | None = None, thread_name_prefix: str = "aioloop-daemon",
                 initializer: Callable[..., object] | None = None, initargs: tuple[Any, ...] = ()) -> None: ...

class Loop(asyncio.AbstractEventLoop):
    """aioloop's event loop: asyncio.AbstractEventLoop with its run cycle,
    ready queue, timer heap, poller, inbox and transports in Cython."""
    slow_callback_duration: float
    def __init__(self) -> None: ...
    def stats(self) -> dict[str, int]:
        """Counters since the loop was made: callbacks run, passes of the run
        cycle, polls, epoll_ctl calls, I/O events, timers scheduled, time-of-
        day reads for aio.now(), inbox wake-ups, current queue sizes,
        children watched and signal handlers installed."""
        ...

    # running and stopping
    def run_forever(self) -> None: ...
    def run_until_complete(self, future: Generator[Any, None, _T] | Awaitable[_T]) -> _T: ...
    def stop(self) -> None: ...
    def is_running(self) -> bool: ...
    def is_closed(self) -> bool: ...
    def close(self) -> None: ...
    async def shutdown_asyncgens(self) -> None: ...
    if sys.version_info >= (3, 12):
        async def shutdown_default_executor(self, timeout: float | None = None) -> None: ...
    else:
        async def shutdown_default_executor(self) -> None: ...

    # callbacks, timers, futures and tasks
    def call_soon(self, callback: Callable[[Unpack[_Ts]], object], *args: Unpack[_Ts],
                  context: contextvars.Context | None = None) -> asyncio.Handle: ...
    def call_soon_threadsafe(self, callback: Callable[[Unpack[_Ts]], object], *args: Unpack[_Ts],
                             context: contextvars.Context | None = None) -> asyncio.Handle: ...
    def call_later(self, delay: float, callback: Callable[[Unpack[_Ts]], object], *args: Unpack[_Ts],
                   context: contextvars.Context | None = None) -> asyncio.TimerHandle: ...
    def call_at(self, when: float, callback: Callable[[Unpack[_Ts]], object], *args: Unpack[_Ts],
                context: contextvars.Context | None = None) -> asyncio.TimerHandle: ...
    def time(self) -> float: ...
    def create_future(self) -> asyncio.Future[Any]: ...
    if sys.version_info >= (3, 13):
        # Typeshed's 3.13 AbstractEventLoop declares eager_start=, which later
        # 3.13 patch releases take and 3.13.0 does not (a stub cannot tell
        # patch releases apart; tests/test_stubs.py allows it).
        def create_task(self, coro: Generator[Any, None, _T] | Coroutine[Any, Any, _T], *,
                        name: str | None = None, context: contextvars.Context | None = None,
                        eager_start: bool | None = None) -> asyncio.Task[_T]: ...
    else:
        def create_task(self, coro: Generator[Any, None, _T] | Coroutine[Any, Any, _T], *,
                        name: str | None = None,
                        context: contextvars.Context | None = None) -> asyncio.Task[_T]: ...
    def set_task_factory(self, factory: _TaskFactory | None) -> None: ...
    def get_task_factory(self) -> _TaskFactory | None: ...

    # executor
    def run_in_executor(self, executor: concurrent.futures.Executor | None,
                        func: Callable[[Unpack[_Ts]], _T], *args: Unpack[_Ts]) -> asyncio.Future[_T]: ...
    def set_default_executor(self, executor: concurrent.futures.Executor) -> None: ...

    # DNS
    async def getaddrinfo(self, host: bytes | str | None, port: bytes | str | int | None, *,
                          family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
                          ) -> list[tuple[Any, Any, int, str, tuple[Any, ...]]]: ...
    async def getnameinfo(self, sockaddr: tuple[str, int] | tuple[str, int, int, int],
                          flags: int = 0) -> tuple[str, str]: ...

    # connections and servers
    if sys.version_info >= (3, 12):
        async def create_connection(
            self, protocol_factory: Callable[[], _ProtocolT], host: str | None = None,
            port: int | None = None, *, ssl: _SSLContext = None, family: int = 0, proto: int = 0,
            flags: int = 0, sock: socket | None = None, local_addr: tuple[str, int] | None = None,
            server_hostname: str | None = None, ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None, happy_eyeballs_delay: float | None = None,
            interleave: int | None = None, all_errors: bool = False,
        ) -> tuple[asyncio.Transport, _ProtocolT]: ...
    else:
        async def create_connection(
            self, protocol_factory: Callable[[], _ProtocolT], host: str | None = None,
            port: int | None = None, *, ssl: _SSLContext = None, family: int = 0, proto: int = 0,
            flags: int = 0, sock: socket | None = None, local_addr: tuple[str, int] | None = None,
            server_hostname: str | None = None, ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None, happy_eyeballs_delay: float | None = None,
            interleave: int | None = None,
        ) -> tuple[asyncio.Transport, _ProtocolT]: ...
    if sys.version_info >= (3, 13):
        async def create_server(
            self, protocol_factory: Callable[[], asyncio.BaseProtocol],
            host: str | Sequence[str] | None = None, port: int | None = None, *,
            family: int = ..., flags: int = ..., sock: socket | None = None, backlog: int = 100,
            ssl: _SSLContext = None, reuse_address: bool | None = None,
            reuse_port: bool | None = None, keep_alive: bool | None = None,
            ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None, start_serving: bool = True,
        ) -> asyncio.Server: ...
        async def create_unix_server(
            self, protocol_factory: Callable[[], asyncio.BaseProtocol], path: str | os.PathLike[str] | None = None,
            *, sock: socket | None = None, backlog: int = 100, ssl: _SSLContext = None,
            ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None, start_serving: bool = True,
            cleanup_socket: bool = True,
        ) -> asyncio.Server: ...
    else:
        async def create_server(
            self, protocol_factory: Callable[[], asyncio.BaseProtocol],
            host: str | Sequence[str] | None = None, port: int | None = None, *,
            family: int = ..., flags: int = ..., sock: socket | None = None, backlog: int = 100,
            ssl: _SSLContext = None, reuse_address: bool | None = None,
            reuse_port: bool | None = None, ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None, start_serving: bool = True,
        ) -> asyncio.Server: ...
        async def create_unix_server(
            self, protocol_factory: Callable[[], asyncio.BaseProtocol], path: str | os.PathLike[str] | None = None,
            *, sock: socket | None = None, backlog: int = 100, ssl: _SSLContext = None,
            ssl_handshake_timeout: float | None = None,
            ssl_shutdown_timeout: float | None = None, start_serving: bool = True,
        ) -> asyncio.Server: ...
    async def create_unix_connection(
        self, protocol_factory: Callable[[], _ProtocolT], path: str | None = None, *,
        ssl: _SSLContext = None, sock: socket | None = None, server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None, ssl_shutdown_timeout: float | None = None,
    ) -> tuple[asyncio.Transport, _ProtocolT]: ...
    async def connect_accepted_socket(
        self, protocol_factory: Callable[[], _ProtocolT], sock: socket, *,
        ssl: _SSLContext = None, ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> tuple[asyncio.Transport, _ProtocolT]: ...
    async def start_tls(
        self, transport: asyncio.BaseTransport, protocol: asyncio.BaseProtocol,
        sslcontext: ssl.SSLContext, *, server_side: bool = False,
        server_hostname: str | None = None, ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
    ) -> asyncio.Transport | None: ...
    async def sendfile(self, transport: asyncio.WriteTransport, file: IO[bytes], offset: int = 0,
                       count: int | None = None, *, fallback: bool = True) -> int: ...
    async def create_datagram_endpoint(
        self, protocol_factory: Callable[[], _ProtocolT],
        local_addr: tuple[str, int] | str | None = None,
        remote_addr: tuple[str, int] | str | None = None, *, family: int = 0, proto: int = 0,
        flags: int = 0, reuse_address: bool | None = None, reuse_port: bool | None = None,
        allow_broadcast: bool | None = None, sock: socket | None = None,
    ) -> tuple[asyncio.DatagramTransport, _ProtocolT]: ...

    # pipes and subprocesses
    async def connect_read_pipe(self, protocol_factory: Callable[[], _ProtocolT],
                                pipe: Any) -> tuple[asyncio.ReadTransport, _ProtocolT]: ...
    async def connect_write_pipe(self, protocol_factory: Callable[[], _ProtocolT],
                                 pipe: Any) -> tuple[asyncio.WriteTransport, _ProtocolT]: ...
    async def subprocess_shell(
        self, protocol_factory: Callable[[], _ProtocolT], cmd: bytes | str, *,
        stdin: int | IO[Any] | None = -1, stdout: int | IO[Any] | None = -1,
        stderr: int | IO[Any] | None = -1, universal_newlines: Literal[False] = False,
        shell: Literal[True] = True, bufsize: Literal[0] = 0, encoding: None = None,
        errors: None = None, text: Literal[False] | None = None, **kwargs: Any,
    ) -> tuple[asyncio.SubprocessTransport, _ProtocolT]: ...
    async def subprocess_exec(
        self, protocol_factory: Callable[[], _ProtocolT], program: Any, *args: Any,
        stdin: int | IO[Any] | None = -1, stdout: int | IO[Any] | None = -1,
        stderr: int | IO[Any] | None = -1, universal_newlines: Literal[False] = False,
        shell: Literal[False] = False, bufsize: Literal[0] = 0, encoding: None = None,
        errors: None = None, text: Literal[False] | None = None, **kwargs: Any,
    ) -> tuple[asyncio.SubprocessTransport, _ProtocolT]: ...

    # readers and writers
    def add_reader(self, fd: _FileDescriptorLike, callback: Callable[[Unpack[_Ts]], Any],
                   *args: Unpack[_Ts]) -> None: ...
    def remove_reader(self, fd: _FileDescriptorLike) -> bool: ...
    def add_writer(self, fd: _FileDescriptorLike, callback: Callable[[Unpack[_Ts]], Any],
                   *args: Unpack[_Ts]) -> None: ...
    def remove_writer(self, fd: _FileDescriptorLike) -> bool: ...

    # sockets
    # asyncio.AbstractEventLoop names it nbytes, its own loops and aioloop n:
    # pass it by position.
    async def sock_recv(self, sock: socket, nbytes: int) -> bytes: ...
    async def sock_recv_into(self, sock: socket, buf: Buffer) -> int: ...
    async def sock_recvfrom(self, sock: socket, bufsize: int) -> tuple[bytes, _RetAddress]: ...
    async def sock_recvfrom_into(self, sock: socket, buf: Buffer,
                                 nbytes: int = 0) -> tuple[int, _RetAddress]: ...
    async def sock_sendall(self, sock: socket, data: Buffer) -> None: ...
    async def sock_sendto(self, sock: socket, data: Buffer, address: _Address) -> int: ...
    async def sock_connect(self, sock: socket, address: _Address) -> None: ...
    async def sock_accept(self, sock: socket) -> tuple[socket, _RetAddress]: ...
    async def sock_sendfile(self, sock: socket, file: IO[bytes], offset: int = 0,
                            count: int | None = None, *, fallback: bool | None = True) -> int: ...

    # signals
    def add_signal_handler(self, sig: int, callback: Callable[[Unpack[_Ts]], object],
                           *args: Unpack[_Ts]) -> None: ...
    def remove_signal_handler(self, sig: int) -> bool: ...

    # errors and debug
    def set_exception_handler(self, handler: _ExceptionHandler | None) -> None: ...
    def get_exception_handler(self) -> _ExceptionHandler | None: ...
    def default_exception_handler(self, context: _Context) -> None: ...
    def call_exception_handler(self, context: _Context) -> None: ...
    def get_debug(self) -> bool: ...
    def set_debug(self, enabled: bool) -> None: ...

def new_event_loop() -> Loop:
    """A new aioloop Loop (not set as the current loop)."""
    ...
