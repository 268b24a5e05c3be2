"""Which loops the benchmark compares, and how a worker makes one.

A loop is named on the command line as ``asyncio``, ``aioloop``, ``uvloop``,
``c-epoll`` (the C reference server, for the echo and HTTP workloads only),
``module:factory`` or ``name=module:factory``.  Stock asyncio is always run:
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
    "uvloop": "uvloop:new_event_loop",
    "rloop": "rloop:new_event_loop",
}

# The peers a default run compares with when they are installed.
PEERS = ("uvloop", "rloop")


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
    return f"{spec.factory}" + (f" {version}" if version else "")


def load_factory(factory):
    """Worker side: import "module:callable" and return the callable."""
    module, _, attr = factory.partition(":")
    obj = importlib.import_module(module)
    for part in attr.split("."):
        obj = getattr(obj, part)
    return obj
