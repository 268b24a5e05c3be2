"""Derive the loop-agnostic subset of test.test_asyncio, for the running Python.

    python tests/conformance/select.py                  # runs the stock suite twice
    python tests/conformance/select.py --stock-json a.json [--stock-json b.json]

Writes tests/conformance/selected-X.Y.txt (one test id a line) and
excluded-X.Y.txt (test id, TAB, reason). Nothing in them is chosen by hand:
a test is selected when all of these hold, checked in this order (the first
rule that fails is the reason given):

 1. it passes on stock asyncio, in every stock run given (default: two runs);
 2. its module and class are not ones that test asyncio's own implementation
    (MODULE_RULES, CLASS_RULES below);
 3. on stock asyncio, every event loop it made came from the harness (the
    installed policy, or the factory of an Aioloop_* class) and there was at
    least one, so that in aioloop mode all of its loops are aioloop's. Loops
    a test makes itself (asyncio.SelectorEventLoop(), test_utils.TestLoop,
    BaseEventLoop subclasses, a policy of its own) stay stock loops;
 4. its source does not reach into stock internals (STATIC RULES below): the
    test method, the setUp/tearDown of its classes, and the methods of its
    class that it calls, transitively (test.test_asyncio.utils.TestCase, the
    harness base class shared by all tests, is not inspected).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path
               if os.path.abspath(p or os.curdir) != _HERE] + [_HERE]

import argparse
import ast
import importlib
import inspect
import re
import subprocess
import tempfile
import textwrap
import unittest

import _common

# --- rule 2: whole modules and classes --------------------------------------

MODULE_RULES = {
    "test_selector_events": "module tests asyncio's selector loop and transports "
                            "(selector_events internals, mocked selectors)",
    "test_proactor_events": "module tests asyncio's proactor loop (Windows)",
    "test_windows_events": "module is Windows only",
    "test_windows_utils": "module is Windows only",
}

# (module, class name regex, reason)
CLASS_RULES = [
    (None, r"ChildWatcher", "class tests asyncio's child watchers"),
    ("test_subprocess", r"^Subprocess\w*WatcherTests$",
     "class runs subprocesses through asyncio's child watchers "
     "(runs on aioloop as Aioloop_SubprocessTests)"),
    ("test_unix_events", r"^Unix(Read|Write)PipeTransportTests$",
     "class tests asyncio's pipe transports with mocks"),
    ("test_sslproto", r"^SslProtoHandshakeTests$",
     "class tests asyncio.sslproto.SSLProtocol internals"),
    ("test_base_events", r"^BaseEventLoopTests$",
     "class tests asyncio.BaseEventLoop itself"),
]

# --- rule 4: static rules -----------------------------------------------------

# asyncio's implementation of the loop and its transports: a test that names
# one of these modules tests asyncio's own classes (or patches them), not the
# loop's public API.
IMPL_MODULES = {"base_events", "selector_events", "proactor_events",
                "unix_events", "sslproto", "base_subprocess", "windows_events",
                "windows_utils", "trsock"}
# The rest of asyncio runs unchanged on any loop (aioloop reuses it): its
# private attributes (StreamReader._buffer, Lock._waiters, ...) are not the
# stock loop's internals.
LOOP_INDEPENDENT = {"streams", "locks", "queues", "tasks", "futures",
                    "taskgroups", "timeouts", "runners", "mixins", "subprocess",
                    "base_futures", "base_tasks", "exceptions", "staggered",
                    "threads", "coroutines", "format_helpers", "protocols",
                    "constants", "log", "__init__", "__main__"}
ASYNCIO_MODULES = IMPL_MODULES | LOOP_INDEPENDENT | {"asyncio", "events", "transports"}
# Private module-level names that are part of the loop-writer's API (uvloop
# and aioloop use them too).
ALLOWED_PRIVATE = {"_get_running_loop", "_set_running_loop", "_get_event_loop"}
# The loop's public methods: a test that replaces one on a loop (loop.x =
# mock, patch.object(loop, "x")) tests which methods asyncio's own
# implementation calls, except for these hooks, which every loop reports
# through by contract.
import asyncio as _asyncio
LOOP_METHODS = {n for n in vars(_asyncio.AbstractEventLoop) if not n.startswith("_")}
HOOKS = {"call_exception_handler", "default_exception_handler"}
# Names of loop-like objects in tests: private attributes of these are stock
# internals whatever their name.
LOOPISH = re.compile(r"(^|\.)(loop\w*|_loop|selector|tr|\w*transport|watcher|"
                     r"server|srv|ssl_proto\w*|\w*_sock|sock)$")
# Free names that mean the stock machinery is under test.
NAME_RULES = [
    (re.compile(r"^(TestLoop|new_test_loop)$"), "uses test_utils.TestLoop"),
    (re.compile(r"ChildWatcher$|^(get|set)_child_watcher$"),
     "uses asyncio's child watchers"),
    (re.compile(r"^(TestSelector|BaseSelector|DefaultSelector|SelectSelector|"
                r"PollSelector|EpollSelector|KqueueSelector)$"),
     "uses a selector object (stock loop internals)"),
    (re.compile(r"^(DefaultEventLoopPolicy|SelectorEventLoop|_UnixSelectorEventLoop|"
                r"BaseEventLoop|BaseSelectorEventLoop)$"),
     "names a stock event loop or policy class"),
]


def _asyncio_private_names():
    """Every _name that asyncio's loop and transport modules define or
    assign, less those its loop-independent modules also use."""
    import asyncio
    loop_names, other_names = set(), set()
    d = os.path.dirname(asyncio.__file__)
    for f in os.listdir(d):
        if not f.endswith(".py"):
            continue
        names = other_names if f[:-3] in LOOP_INDEPENDENT else loop_names
        with open(os.path.join(d, f), encoding="utf-8") as fh:
            tree = ast.parse(fh.read())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and _is_private(node.attr):
                names.add(node.attr)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and _is_private(node.name):
                names.add(node.name)
    return loop_names - other_names


def _is_private(name):
    return name.startswith("_") and not name.startswith("__")


def _test_defined_private_names(module_src_tree):
    """_names the test module itself defines (self._x = ..., def _x)."""
    names = set()
    for node in ast.walk(module_src_tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if _is_private(node.name):
                names.add(node.name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                for sub in ast.walk(t):
                    if isinstance(sub, ast.Attribute) and _is_private(sub.attr) \
                            and isinstance(sub.value, ast.Name) and sub.value.id == "self":
                        names.add(sub.attr)
    return names


class StaticChecker:
    def __init__(self):
        self.asyncio_private = _asyncio_private_names()
        self._module_names = {}

    def module_private(self, module):
        if module.__name__ not in self._module_names:
            with open(module.__file__, encoding="utf-8") as f:
                tree = ast.parse(f.read())
            self._module_names[module.__name__] = _test_defined_private_names(tree)
        return self._module_names[module.__name__]

    def check(self, func_nodes, module, allow=()):
        """First stock-internals finding in the given function ASTs, or None.
        `allow`: free names not to hold against the test (see main())."""
        own = self.module_private(module)
        for where, node in func_nodes:
            # isinstance(x, proactor_events.BaseProactorEventLoop) only picks
            # a branch for the loop under test; it reaches into nothing.
            skip = set()
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call) and isinstance(sub.func, ast.Name) \
                        and sub.func.id in ("isinstance", "issubclass") \
                        and len(sub.args) == 2:
                    skip.update(id(n) for n in ast.walk(sub.args[1]))
            for sub in ast.walk(node):
                if id(sub) in skip:
                    continue
                r = self._check_node(sub, own, allow)
                if r:
                    line = getattr(sub, "lineno", None)
                    return "%s (%s%s)" % (r, where, ", line %d" % line if line else "")
        return None

    def _check_node(self, node, own, allow):
        name = node.id if isinstance(node, ast.Name) else \
            node.attr if isinstance(node, ast.Attribute) else None
        if name is not None and name not in allow:
            for rx, why in NAME_RULES:
                if rx.search(name):
                    return "%s: %s" % (why, ast.unparse(node))
        if isinstance(node, ast.Attribute):
            base = node.value
            base_src = ast.unparse(base)
            # asyncio.base_events.X, base_events.X: asyncio's own loop classes
            if isinstance(base, ast.Name) and base.id == "asyncio" \
                    and node.attr in IMPL_MODULES:
                return "uses asyncio.%s (asyncio's loop implementation)" % node.attr
            if isinstance(base, ast.Name) and base.id in IMPL_MODULES:
                return "uses %s.%s (asyncio's loop implementation)" % (base.id, node.attr)
            if not _is_private(node.attr) or node.attr in ALLOWED_PRIVATE:
                return None
            if isinstance(base, ast.Name) and base.id in ("self", "cls"):
                return None
            if isinstance(base, ast.Call) and ast.unparse(base.func) == "super":
                return None
            if isinstance(base, ast.Name) and base.id in ASYNCIO_MODULES:
                if base.id in LOOP_INDEPENDENT:
                    return None
                return "uses private %s.%s" % (base_src, node.attr)
            if LOOPISH.search(base_src) or (
                    node.attr in self.asyncio_private and node.attr not in own):
                return "reaches into private attribute %s.%s" % (base_src, node.attr)
            return None
        if isinstance(node, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr in LOOP_METHODS \
                        and LOOPISH.search(ast.unparse(t.value)):
                    return "replaces loop method %s (tests asyncio's call paths)" % (
                        ast.unparse(t))
            return None
        if isinstance(node, ast.Call):
            fn = ast.unparse(node.func)
            if fn.endswith("mock.patch") or fn == "patch":
                if node.args and isinstance(node.args[0], ast.Constant) \
                        and isinstance(node.args[0].value, str) \
                        and node.args[0].value.startswith("asyncio."):
                    return "patches %s" % node.args[0].value
            if fn.endswith("mock.patch.object") or fn == "patch.object":
                if len(node.args) >= 2:
                    target = ast.unparse(node.args[0])
                    attr = node.args[1].value if isinstance(node.args[1], ast.Constant) else "?"
                    if (LOOPISH.search(target) and (_is_private(str(attr)) or (
                            attr in LOOP_METHODS and attr not in HOOKS))) or \
                            target.split(".")[0] in IMPL_MODULES:
                        return "patches %s.%s with a mock" % (target, attr)
            if fn in ("asyncio.set_event_loop_policy", "events.set_event_loop_policy") \
                    and node.args and not (isinstance(node.args[0], ast.Constant)
                                           and node.args[0].value is None):
                return "installs its own event loop policy"
        return None


def _parse_function(func):
    func = inspect.unwrap(func)
    try:
        src = inspect.getsource(func)
    except (OSError, TypeError):
        return None
    try:
        tree = ast.parse(textwrap.dedent(src))
    except SyntaxError:
        return None
    return tree.body[0] if tree.body else None


_TEST_DIR = None


def _own_method(cls, name):
    """The function `name` of cls's MRO, if defined in a test.test_asyncio
    module other than utils (the shared harness base)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            fn = vars(klass)[name]
            if isinstance(fn, (staticmethod, classmethod)):
                fn = fn.__func__
            fn_u = inspect.unwrap(fn)
            if not inspect.isfunction(fn_u):
                return None
            # Code of test.test_asyncio itself, except utils.py (the harness
            # base class every test shares); the Aioloop_* factories live in
            # _common.py and are not the test's code either.
            path = fn_u.__code__.co_filename
            if os.path.dirname(path) != _TEST_DIR or path.endswith("utils.py"):
                return None
            return klass, fn
    return None


FIXTURES = ("setUp", "tearDown", "asyncSetUp", "asyncTearDown", "setUpClass",
            "tearDownClass")


def _module_function(fn_globals, name):
    """A function or class of the test module's own namespace (a helper such
    as test_base_events.patch_socket), if defined in test.test_asyncio."""
    obj = fn_globals.get(name)
    if inspect.isfunction(obj):
        path = inspect.unwrap(obj).__code__.co_filename
        if os.path.dirname(path) == _TEST_DIR and not path.endswith("utils.py"):
            return obj
    return None


def function_nodes(test):
    """(where, AST) of the test method, its fixtures, the methods of self it
    uses and the module-level helper functions it names, transitively."""
    cls = type(test)
    namespaces = {}          # id(globals) -> globals of code seen so far
    seen = set()
    out = []
    todo = [("self", n) for n in [test._testMethodName] + list(FIXTURES)]
    while todo:
        key = todo.pop(0)
        if key in seen:
            continue
        seen.add(key)
        scope, name = key
        if scope == "self":
            found = _own_method(cls, name)
            if found is None:
                continue
            klass, fn = found
            where = "%s.%s" % (klass.__name__, name)
        else:
            fn = _module_function(namespaces[scope], name)
            if fn is None:
                continue
            where = name
        node = _parse_function(fn)
        if node is None:
            continue
        out.append((where, node))
        g = inspect.unwrap(fn).__globals__
        namespaces[id(g)] = g
        for sub in ast.walk(node):
            if isinstance(sub, ast.Attribute) and isinstance(sub.value, ast.Name) \
                    and sub.value.id == "self":
                todo.append(("self", sub.attr))
            elif isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                todo.append((id(g), sub.id))
    return out


# --- rules 1 and 3 ------------------------------------------------------------

def stock_reason(recs):
    for rec in recs:
        if rec is None:
            return "not run on stock asyncio"
        st = rec["status"]
        if st == "skip":
            return "skipped on stock asyncio: %s" % rec.get("message", "")[:120]
        if st not in ("pass", "xfail"):
            return "does not pass on stock asyncio (%s: %s)" % (
                st, rec.get("message", "")[:120].replace("\n", " "))
    return None


def loop_reason(rec, test_id):
    loops = rec.get("loops", {})
    others = sorted(k.rsplit("@", 1)[0] for k in loops if not k.endswith("@harness"))
    if others:
        kinds = ", ".join(sorted(set(o.rsplit(".", 1)[-1] for o in others)))
        if "TestLoop" in kinds:
            return "runs on test_utils.TestLoop (a mock-clocked BaseEventLoop)"
        module, cls = test_id.split(".")[2:4]
        dup = [s["name"] for s in _common.DUPLICATES.get(module, ())
               if re.search(s["replaces"], cls)]
        if dup:
            return "makes its own stock loop (%s); its tests run on aioloop as %s" % (
                kinds, ", ".join(dup))
        return "makes its own stock loop (%s), not the loop under test" % kinds
    if not loops:
        return "makes no event loop (does not exercise the loop under test)"
    return None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stock-json", action="append", metavar="FILE",
                    help="use this stock run (run.py --stock --json FILE); "
                         "repeat for several runs")
    ap.add_argument("--runs", type=int, default=2,
                    help="stock runs to make when no --stock-json (default 2)")
    ap.add_argument("--timeout", type=float, default=30.0)
    args = ap.parse_args(argv)

    ver = _common.py_version()
    paths = args.stock_json
    if not paths:
        paths = []
        tmp = tempfile.mkdtemp(prefix="aioloop-select-")
        for i in range(args.runs):
            p = os.path.join(tmp, "stock-%d.json" % i)
            print("stock run %d/%d ..." % (i + 1, args.runs), flush=True)
            subprocess.run([sys.executable, os.path.join(_HERE, "run.py"),
                            "--stock", "--quiet", "--json", p,
                            "--timeout", str(args.timeout)], check=True)
            paths.append(p)
    runs = [_common.load_results(p) for p in paths]
    for r in runs:
        if r["mode"] != "stock" or r["version"] != ver:
            sys.exit("%s: not a stock run of Python %s" % (r, ver))
    ids = sorted(set().union(*(r["tests"] for r in runs)))

    global _TEST_DIR
    import test.test_asyncio
    _TEST_DIR = os.path.dirname(test.test_asyncio.__file__)
    checker = StaticChecker()
    tests_by_id = {}
    for short in sorted({_common.module_of(t) for t in ids}):
        if short in MODULE_RULES:
            continue
        try:
            module = importlib.import_module("%s.%s" % (_common.PKG, short))
        except unittest.SkipTest:
            continue
        _common.add_duplicates(module, short, lambda: None, _nullscope)
        suite = unittest.defaultTestLoader.loadTestsFromModule(module)
        for t in _flatten(suite):
            tests_by_id[t.id()] = t

    selected, excluded = [], []
    for tid in ids:
        recs = [r["tests"].get(tid) for r in runs]
        reason = stock_reason(recs)
        parts = tid.split(".")
        module, cls = _common.module_of(tid), (parts[3] if len(parts) > 4 else "")
        if reason is None and module in MODULE_RULES:
            reason = MODULE_RULES[module]
        if reason is None:
            for mod, rx, why in CLASS_RULES:
                if (mod is None or mod == module) and re.search(rx, cls):
                    reason = why
                    break
        if reason is None:
            for rec in recs:
                reason = loop_reason(rec, tid)
                if reason:
                    break
        if reason is None:
            test = tests_by_id.get(tid)
            if test is None:
                reason = "not found when loading the module for inspection"
            else:
                mod = sys.modules[type(test).__module__]
                # An Aioloop_* class made with setup="patch" runs a setUp
                # that calls asyncio.SelectorEventLoop(), pointed at the
                # loop under test: that name is not held against it.
                allow = set()
                for spec in _common.DUPLICATES.get(module, ()):
                    if spec["name"] == cls and spec.get("setup") == "patch":
                        allow.add("SelectorEventLoop")
                finding = checker.check(function_nodes(test), mod, allow)
                if finding:
                    reason = "reaches into stock internals: " + finding
        if reason is None:
            selected.append(tid)
        else:
            excluded.append((tid, reason))

    header = ("# Generated by tests/conformance/select.py on Python %s from %d stock "
              "run(s); do not edit by hand.\n" % (runs[0]["python"], len(runs)))
    with open(_common.data_file("selected"), "w", encoding="utf-8") as f:
        f.write(header)
        f.write("# The loop-agnostic tests of test.test_asyncio: %d of %d.\n"
                % (len(selected), len(ids)))
        for tid in selected:
            f.write(tid + "\n")
    with open(_common.data_file("excluded"), "w", encoding="utf-8") as f:
        f.write(header)
        f.write("# test id<TAB>reason (the first rule that excludes it): %d tests.\n"
                % len(excluded))
        for tid, why in excluded:
            f.write("%s\t%s\n" % (tid, why))
    print("selected %d of %d tests of Python %s's test_asyncio (excluded %d)" % (
        len(selected), len(ids), ver, len(excluded)))
    print("wrote %s and %s" % (_common.data_file("selected"), _common.data_file("excluded")))
    return 0


class _nullscope:
    def __init__(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


if __name__ == "__main__":
    sys.exit(main())
