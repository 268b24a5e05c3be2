"""Shared by the conformance scripts: file names, the test modules of the
running Python, the duplicated test classes, and result files.

Imported as a plain module by run.py, select.py, update_expected.py and the
per-module child (_child.py). Those scripts put this folder *after* the
standard library on sys.path, because it holds a script named select.py that
would otherwise shadow the stdlib's select module.
"""

import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PKG = "test.test_asyncio"

# Owning issues (see `issues list`).
ISSUE_CORE = "#2"
ISSUE_NET = "#3"
ISSUE_PROC = "#4"

# AbstractEventLoop methods by the issue that implements them in aioloop.
# The child records every call a test makes to a method that aioloop.Loop
# still inherits from asyncio.AbstractEventLoop (and so raises
# NotImplementedError); update_expected.py uses these sets to name the owner.
NET_METHODS = frozenset("""
    getaddrinfo getnameinfo create_connection create_server sendfile
    start_tls create_unix_connection create_unix_server connect_accepted_socket
    create_datagram_endpoint sock_recv sock_recv_into sock_recvfrom
    sock_recvfrom_into sock_sendall sock_sendto sock_connect sock_accept
    sock_sendfile
""".split())
PROC_METHODS = frozenset("""
    subprocess_exec subprocess_shell connect_read_pipe connect_write_pipe
    add_signal_handler remove_signal_handler
""".split())


def py_version():
    return "%d.%d" % sys.version_info[:2]


def data_file(kind, version=None):
    """tests/conformance/<kind>-<X.Y>.txt; kind is selected, excluded or
    expected-failures."""
    return os.path.join(HERE, "%s-%s.txt" % (kind, version or py_version()))


def all_modules():
    """Short names (test_events, ...) of the running Python's test_asyncio."""
    import test.test_asyncio as pkg
    d = os.path.dirname(pkg.__file__)
    return sorted(f[:-3] for f in os.listdir(d)
                  if f.startswith("test_") and f.endswith(".py"))


def module_of(test_id):
    """'test.test_asyncio.test_events.X.test_y' -> 'test_events'."""
    rest = test_id[len(PKG) + 1:] if test_id.startswith(PKG + ".") else test_id
    return rest.split(".", 1)[0]


# --- duplicated test classes -------------------------------------------------
#
# These test classes make their loop with asyncio.SelectorEventLoop() (or a
# policy they install), so on their own they never reach aioloop. The child
# adds, to the module under test, one more class per entry, named "Aioloop_*",
# whose loop comes from the loop under test: aioloop.new_event_loop() in
# aioloop mode, asyncio.SelectorEventLoop() in stock mode (so that select.py
# can see which of its tests pass on stock asyncio).
#
#   replaces: regex of the stock classes whose tests this class runs again
#            (select.py names it in their exclusion reason);
#   bases:   names in the test module ("utils.TestCase" is
#            test.test_asyncio.utils.TestCase); the new class derives from
#            them in this order. For test_events the Unix mixin that installs
#            a stock SafeChildWatcher is left out on purpose.
#   factory: the loop factory method to override (create_event_loop/new_loop);
#   setup:   "loop"  - setUp() makes self.loop itself (the subprocess mixin);
#            "patch" - setUp() calls asyncio.SelectorEventLoop(): it runs with
#                      that name pointing at the loop under test.
# A spec whose bases do not exist in this Python's module is skipped.

DUPLICATES = {
    "test_events": [
        dict(name="Aioloop_EventLoopTests",
             replaces=r"^(Select|Poll|EPoll|Kqueue)EventLoopTests$",
             bases=("EventLoopTestsMixin", "SubprocessTestsMixin", "utils.TestCase"),
             factory="create_event_loop"),
    ],
    "test_sendfile": [
        dict(name="Aioloop_SendfileTests",
             replaces=r"^(Select|Poll|EPoll|Kqueue)EventLoopTests$",
             bases=("SendfileTestsBase", "utils.TestCase"),
             factory="create_event_loop"),
    ],
    "test_sock_lowlevel": [
        dict(name="Aioloop_SockTests",
             replaces=r"^(Select|Poll|EPoll|Kqueue)EventLoopTests$",
             bases=("BaseSockTestsMixin", "utils.TestCase"),
             factory="create_event_loop"),
    ],
    "test_buffered_proto": [
        dict(name="Aioloop_BufferedProtocolTests",
             replaces=r"^BufferedProtocolSelectorTests$",
             bases=("BufferedProtocolSelectorTests",), factory="new_loop"),
    ],
    "test_server": [
        dict(name="Aioloop_StartServerTests",
             replaces=r"^SelectorStartServerTests$",
             bases=("SelectorStartServerTests",), factory="new_loop"),
    ],
    "test_sslproto": [
        dict(name="Aioloop_StartTLSTests",
             replaces=r"^SelectorStartTLSTests$",
             bases=("SelectorStartTLSTests",), factory="new_loop"),
    ],
    "test_subprocess": [
        dict(name="Aioloop_SubprocessTests",
             replaces=r"^Subprocess\w*WatcherTests$",
             bases=("SubprocessMixin", "utils.TestCase"), setup="loop"),
    ],
    "test_base_events": [
        dict(name="Aioloop_BaseEventLoopWithSelectorTests",
             replaces=r"^BaseEventLoopWithSelectorTests$",
             bases=("BaseEventLoopWithSelectorTests",), setup="patch"),
    ],
    "test_unix_events": [
        dict(name="Aioloop_UnixSocketTests",
             replaces=r"^SelectorEventLoopUnixSocketTests$",
             bases=("SelectorEventLoopUnixSocketTests",), setup="patch"),
    ],
}


def _resolve(module, dotted):
    if dotted == "utils.TestCase":
        from test.test_asyncio import utils
        return utils.TestCase
    obj = module
    for part in dotted.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def add_duplicates(module, short, loop_factory, factory_scope):
    """Add the Aioloop_* classes of DUPLICATES[short] to `module`.

    loop_factory() makes the loop under test. factory_scope() is a context
    manager the child wraps around every call of it (it labels the loops made
    there as made by the harness). Returns the names added."""
    added = []
    for spec in DUPLICATES.get(short, ()):
        bases = tuple(_resolve(module, b) for b in spec["bases"])
        if None in bases:
            continue
        cls = _make_duplicate(module, spec, bases, loop_factory, factory_scope)
        setattr(module, spec["name"], cls)
        added.append(spec["name"])
    return added


def _make_duplicate(module, spec, bases, loop_factory, factory_scope):
    import asyncio

    def make_loop(self=None):
        with factory_scope():
            return loop_factory()

    ns = {"__module__": module.__name__, "__qualname__": spec["name"],
          "__doc__": "%s, with its loop from the loop under test." % (
              " + ".join(spec["bases"]),)}
    if "factory" in spec:
        ns[spec["factory"]] = make_loop
    if spec.get("setup") == "loop":
        def setUp(self):
            super(cls, self).setUp()
            self.loop = make_loop()
            self.set_event_loop(self.loop)
        ns["setUp"] = setUp
    elif spec.get("setup") == "patch":
        def setUp(self):
            saved = asyncio.SelectorEventLoop
            asyncio.SelectorEventLoop = lambda *a, **k: make_loop()
            try:
                super(cls, self).setUp()
            finally:
                asyncio.SelectorEventLoop = saved
        ns["setUp"] = setUp
    cls = type(spec["name"], bases, ns)
    return cls


# --- result files ------------------------------------------------------------

def read_list(path):
    """Lines of a data file as {test_id: [fields...]}; '#' starts a comment."""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            fields = line.split("\t")
            out[fields[0]] = fields[1:]
    return out


def load_results(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def passed(rec):
    """A test result that counts as passing (stock mode or aioloop mode)."""
    return rec["status"] in ("pass", "xfail")


def routed(rec):
    """Proof that a test ran on aioloop: it made at least one aioloop loop
    and no stock asyncio loop."""
    loops = rec.get("loops", {})
    n_aio = sum(n for k, n in loops.items() if k.startswith("aioloop."))
    n_stock = sum(n for k, n in loops.items() if not k.startswith("aioloop."))
    return n_aio > 0 and n_stock == 0


def passed_on_aioloop(rec):
    return passed(rec) and routed(rec)
