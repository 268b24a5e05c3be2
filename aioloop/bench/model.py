"""The nouns of the benchmark: workloads, loops, and a cell's failure."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Workload:
    """One row group of the table: a benchmark with fixed parameters.

    ``suite`` is echo, http, micro or multicore; ``params`` go to that suite's module; a
    workload with ``native`` set is also run against the C reference server."""

    id: str
    suite: str
    title: str
    params: dict = field(default_factory=dict, hash=False, compare=False)
    native: bool = False


@dataclass(frozen=True)
class LoopSpec:
    """A loop under test.  ``factory`` is "module:callable", imported and called
    in the worker process to make the loop; None marks the C reference server,
    which stands in only for workloads that are ``native``."""

    name: str
    factory: str | None

    @property
    def native(self):
        return self.factory is None


class CellError(Exception):
    """One (workload, loop, round) cell failed; str(exc) is what the report shows."""

    def __init__(self, message, *, fatal=False):
        super().__init__(message)
        # fatal: retrying in later rounds would only waste time (a time-out, a missing binary)
        self.fatal = fatal


@dataclass
class Settings:
    """How cells are measured; one instance per run, read by every suite."""

    duration: float = 2.0         # seconds of measurement per network cell
    warmup: float = 0.5           # seconds of load before the measurement window opens
    connections: int = 10         # echo: connections, one request in flight on each
    http_connections: int = 100   # wrk -c
    repeat: int = 1               # micro: timed runs per cell, the fastest counts
    client: str | None = None     # path of the C load client; None: the Python fallback
    ref_server: str | None = None  # path of the C reference server; None: not built
    pingpong: str | None = None   # path of the C eventfd ping-pong (multicore); None: not built
    server_cpu: int | None = None  # CPU the server is pinned to (None: not pinned)
    client_cpu: int | None = None  # CPU the load client is pinned to
    start_timeout: float = 120.0  # seconds a server may take to announce itself
    micro_timeout: float = 120.0  # seconds a micro benchmark process may take
