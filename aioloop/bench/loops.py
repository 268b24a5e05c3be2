"""Which loops the benchmark compares, and how a worker makes one.

A loop is named on the command line as ``asyncio``, ``aioloop``,
``aioloop-t2`` (aioloop on dispatch thread 0 of a 2-thread Scheduler whose
other thread is idle: what threads=N costs a one-thread workload),
``uvloop``, ``rloop``, ``c-epoll`` (the C reference server, for the echo and
HTTP workloads only), ``module:factory`` or ``name=module:factory``.  Stock asyncio is always run:
every other loop's figures are ratios to asyncio's in the same round.
"""

import importlib
import importlib.metadata
import importlib.util
import platform

from . import cbuild
from .model import LoopSpec

BASELINE = "asyncio"
C_REFERENCE = "c-epoll"

BUILTIN = {
    "asyncio": "asyncio:new_event_loop",
    "aioloop": "aioloop:new_event_loop",
    "aioloop-t2": "aioloop.bench.loops:scheduler_loop0",
    "uvloop": "uvloop:new_event_loop",
    "rloop": "rloop:new_event_loop",
}

# The peers a default run compares with when they are installed.
PEERS = ("uvloop", "rloop")


def scheduler_loop0():
    """Loop 0 of a new 2-thread Scheduler (``aioloop.new_event_loop(threads=2)``).

    The worker runs its workload on it as on any loop, in its own thread,
    which becomes dispatch thread 0; the Scheduler starts thread 1 when
    loop 0 first runs (the warm-up of a micro cell, a server's set-up), and
    thread 1 then idles in its own loop for the rest of the cell. Nothing is
    submitted to the Scheduler, so the figures are those of a program that
    runs a one-thread workload on ``aioloop.run(main(), threads=2)``."""
    import aioloop
    return aioloop.new_event_loop(threads=2)


def parse(text):
    """LoopSpecs from a comma-separated --loops value, asyncio first.  Raises
    ValueError for a name that is neither built in nor ``module:factory``."""
    specs = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        if item == C_REFERENCE:
            spec = LoopSpec(C_REFERENCE, None)
        elif item in BUILTIN:
            spec = LoopSpec(item, BUILTIN[item])
        elif ":" in item:
            name, _, factory = item.rpartition("=")
            spec = LoopSpec(name or factory, factory)
        else:
            raise ValueError(f"unknown loop {item!r}: use one of {', '.join([*BUILTIN, C_REFERENCE])}"
                             " or module:factory")
        if spec.name not in {s.name for s in specs}:
            specs.append(spec)
    if BASELINE not in {s.name for s in specs}:
        specs.insert(0, LoopSpec(BASELINE, BUILTIN[BASELINE]))
    return specs


def defaults():
    """The default loops and a note for each one left out: asyncio, aioloop,
    uvloop and rloop when installed, and the C reference server when a
    compiler exists."""
    names, notes = ["asyncio", "aioloop"], []
    for peer in PEERS:
        if importlib.util.find_spec(peer) is not None:
            names.append(peer)
        else:
            notes.append(f"{peer}: not installed (pip install {peer}), left out")
    if cbuild.find_compiler() is not None:
        names.append(C_REFERENCE)
    else:
        notes.append(f"{C_REFERENCE}: no C compiler, so no C reference server")
    return parse(",".join(names)), notes


def describe(spec):
    """One line for the report header: the loop's version or what it is."""
    if spec.native:
        return "C reference server (plain epoll), echo and HTTP only"
    if spec.name == BASELINE:
        return f"stock asyncio, Python {platform.python_version()} (baseline)"
    module = spec.factory.partition(":")[0]
    top = module.partition(".")[0]
    try:
        version = importlib.metadata.version(top)
    except importlib.metadata.PackageNotFoundError:
        version = None
    text = f"{spec.factory}" + (f" {version}" if version else "")
    if spec.factory == BUILTIN["aioloop-t2"]:
        text += ": dispatch thread 0 of a 2-thread Scheduler, thread 1 idle"
    return text


def load_factory(factory):
    """Worker side: import "module:callable" and return the callable."""
    module, _, attr = factory.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
