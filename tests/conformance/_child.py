"""Run the tests of one test_asyncio module and write one JSON line per event.

Started by run.py, one process per module (and again after a hang or a
crash, for the tests not yet run). Not meant to be run by hand, but it can be:

    python tests/conformance/_child.py --module test_events --mode aioloop \\
        --out /tmp/r.jsonl [--only ids.txt] [--timeout 30]

Records written to --out, in order:
  {"event": "plan", "ids": [...]}           the tests about to run
  {"event": "start", "id": ...}             before each test (before setUp)
  {"event": "call", "id", "name", "unimplemented"}  first call of a
                                            networking/process method, or of
                                            any method aioloop lacks
  {"event": "end", "id", "status", ...}     after each test (after cleanups)
  {"event": "fixture", "desc", "status", "message"}   setUpClass/Module errors
  {"event": "done"}

Each test runs under faulthandler.dump_traceback_later(--timeout, exit=True):
a test that hangs dumps every thread's stack to --hang-file and the process
exits; run.py records the test as "timeout" and starts a new child for the
rest.

Routing (aioloop mode): aioloop.EventLoopPolicy() is installed before every
test, and asyncio.set_event_loop_policy(None) installs a fresh one instead of
going back to asyncio's default. Stock mode does the same with
asyncio.DefaultEventLoopPolicy, so both runs see the same harness.

Loop accounting: every loop made during a test is counted by its class and by
where it came from: "harness" (the policy the harness installed, or the
factory of an Aioloop_* class) or "other" (any other way: a direct
asyncio.SelectorEventLoop(), a policy the test installed itself, a subclass of
BaseEventLoop such as test_utils.TestLoop).
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path
               if os.path.abspath(p or os.curdir) != _HERE] + [_HERE]

import argparse
import asyncio
import asyncio.base_events
import asyncio.events
import collections
import contextlib
import faulthandler
import gc
import importlib
import json
import threading
import time
import traceback
import unittest

import _common

_state = threading.local()


def _origin():
    return getattr(_state, "origin", None) or "other"


@contextlib.contextmanager
def _harness_scope():
    saved = getattr(_state, "origin", None)
    _state.origin = "harness"
    try:
        yield
    finally:
        _state.origin = saved


class Harness:
    def __init__(self, mode):
        self.mode = mode
        self.loops = collections.Counter()
        self.unimplemented = set()   # methods called that aioloop lacks
        self.used = set()            # watched methods called (see _patch)
        self.on_call = None
        self._policies = set()   # ids of the policies the harness installed
        self._real_set_policy = asyncio.events.set_event_loop_policy
        if mode == "aioloop":
            import aioloop
            self.aioloop = aioloop
            self.policy_class = aioloop.EventLoopPolicy
            self.loop_factory = aioloop.new_event_loop
        else:
            self.aioloop = None
            self.policy_class = asyncio.DefaultEventLoopPolicy
            self.loop_factory = asyncio.SelectorEventLoop
        self._patch()

    # -- instrumentation --

    def _record_loop(self, loop):
        cls = type(loop)
        self.loops["%s.%s@%s" % (cls.__module__, cls.__qualname__, _origin())] += 1

    def _patch(self):
        harness = self
        BEL = asyncio.base_events.BaseEventLoop
        bel_init = BEL.__init__

        def __init__(self, *args, **kwargs):
            harness._record_loop(self)
            bel_init(self, *args, **kwargs)
        BEL.__init__ = __init__

        BDP = asyncio.events.BaseDefaultEventLoopPolicy
        bdp_new = BDP.new_event_loop

        def new_event_loop(self):
            if id(self) in harness._policies:
                with _harness_scope():
                    return bdp_new(self)
            return bdp_new(self)
        BDP.new_event_loop = new_event_loop

        real_set = self._real_set_policy

        def set_event_loop_policy(policy):
            # Keep the loop under test installed: None means "the default",
            # and the default here is the harness's policy.
            if policy is None:
                harness.install_policy()
            else:
                real_set(policy)
        set_event_loop_policy.__doc__ = real_set.__doc__
        asyncio.events.set_event_loop_policy = set_event_loop_policy
        asyncio.set_event_loop_policy = set_event_loop_policy

        if self.aioloop is not None:
            Loop = self.aioloop.Loop

            loop_init_orig = Loop.__init__

            def loop_init(self, *args, **kwargs):
                harness._record_loop(self)
                if loop_init_orig is not object.__init__:
                    loop_init_orig(self, *args, **kwargs)
            Loop.__init__ = loop_init
            # Methods aioloop does not implement yet still come from
            # AbstractEventLoop and raise NotImplementedError: note each
            # call. Note calls of the networking and process methods too
            # (implemented or not): update_expected.py names the owning issue
            # of a failure from them.
            watched = _common.NET_METHODS | _common.PROC_METHODS
            for name, value in vars(asyncio.AbstractEventLoop).items():
                if name.startswith("_") or not callable(value):
                    continue
                current = getattr(Loop, name, None)
                if current is value:
                    setattr(Loop, name, self._noting(name, value, True))
                elif name in watched and current is not None:
                    setattr(Loop, name, self._noting(name, current, False))

    def _noting(self, name, func, unimplemented):
        harness = self

        def method(self, *args, **kwargs):
            if name not in harness.used:
                harness.used.add(name)
                if unimplemented:
                    harness.unimplemented.add(name)
                if harness.on_call is not None:
                    harness.on_call(name, unimplemented)
            return func(self, *args, **kwargs)
        method.__name__ = method.__qualname__ = name
        method.__doc__ = getattr(func, "__doc__", None)
        method.__wrapped__ = func
        return method

    def install_policy(self):
        policy = self.policy_class()
        self._policies.add(id(policy))
        self._policy_keepalive = policy  # ids stay unique while alive
        self._real_set_policy(policy)

    def before_test(self):
        self.loops.clear()
        self.unimplemented.clear()
        self.used.clear()
        self._policies.clear()
        self.install_policy()


class Result(unittest.TestResult):
    def __init__(self, emit, harness, timeout, hang_file):
        super().__init__()
        self.emit = emit
        self.harness = harness
        self.timeout = timeout
        self.hang_file = hang_file
        self.current = None
        harness.on_call = self._on_call

    def _on_call(self, name, unimplemented):
        # Sent at once: if the test then hangs, run.py still knows what the
        # test used, and what it needed that aioloop does not have.
        cur = self.current
        if cur is not None:
            self.emit({"event": "call", "id": cur["id"], "name": name,
                       "unimplemented": unimplemented})

    def _set(self, status, err=None, test=None):
        order = {"pass": 0, "skip": 1, "xfail": 1, "xpass": 2, "fail": 3, "error": 4}
        if self.current is None:
            return
        cur = self.current["status"]
        if cur is None or order[status] > order[cur]:
            self.current["status"] = status
        if err is not None and "message" not in self.current:
            etype, value, tb = err
            self.current["message"] = ("%s: %s" % (etype.__name__, value))[:500]
            self.current["traceback"] = self._exc_info_to_string(err, test)[-6000:]

    def startTest(self, test):
        super().startTest(test)
        self.harness.before_test()
        self.current = {"event": "end", "id": test.id(), "status": None}
        self.t0 = time.monotonic()
        self.emit({"event": "start", "id": test.id()})
        faulthandler.dump_traceback_later(self.timeout, exit=True, file=self.hang_file)

    def stopTest(self, test):
        # Collect this test's garbage now, so that what a failing test
        # leaves behind (an unclosed file in a traceback cycle) cannot fail
        # the next test that counts ResourceWarnings around gc.collect().
        gc.collect()
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        rec = self.current
        self.current = None
        if rec is None:
            return
        if rec["status"] is None:
            rec["status"] = "pass"
        rec["seconds"] = round(time.monotonic() - self.t0, 3)
        rec["loops"] = dict(self.harness.loops)
        if self.harness.unimplemented:
            rec["unimplemented"] = sorted(self.harness.unimplemented)
        if self.harness.used:
            rec["used"] = sorted(self.harness.used)
        self.emit(rec)

    def addSuccess(self, test):
        super().addSuccess(test)
        self._set("pass")

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._set("fail", err, test)

    def addError(self, test, err):
        super().addError(test, err)
        if self.current is None or not isinstance(test, unittest.TestCase):
            # setUpClass/setUpModule/tearDown* failures (_ErrorHolder).
            self.emit({"event": "fixture", "desc": str(test), "status": "error",
                       "message": ("%s: %s" % (err[0].__name__, err[1]))[:500],
                       "traceback": self._exc_info_to_string(err, test)[-6000:]})
            return
        self._set("error", err, test)

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        if self.current is None:
            if isinstance(test, unittest.TestCase):
                # 3.12+ skips a skipped class's tests without startTest().
                self.emit({"event": "end", "id": test.id(), "status": "skip",
                           "message": str(reason)[:500], "loops": {}})
            else:
                self.emit({"event": "fixture", "desc": str(test),
                           "status": "skip", "message": str(reason)[:500]})
            return
        self._set("skip")
        self.current.setdefault("message", str(reason)[:500])

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self._set("xfail")

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self._set("xpass")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            failure = issubclass(err[0], test.failureException)
            self._set("fail" if failure else "error", err, test)


def _flatten(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from _flatten(t)
        else:
            yield t


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--module", required=True)
    ap.add_argument("--mode", choices=("aioloop", "stock"), required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only")
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--hang-file", required=True)
    args = ap.parse_args()

    out = open(args.out, "a", encoding="utf-8")
    lock = threading.Lock()

    def emit(rec):
        line = json.dumps(rec) + "\n"
        with lock:
            out.write(line)
            out.flush()

    hang_file = open(args.hang_file, "w")
    faulthandler.enable(file=hang_file, all_threads=True)

    short = args.module.rsplit(".", 1)[-1]
    name = "%s.%s" % (_common.PKG, short)
    harness = Harness(args.mode)
    harness.install_policy()
    try:
        module = importlib.import_module(name)
    except unittest.SkipTest as exc:
        emit({"event": "plan", "ids": [name]})
        emit({"event": "end", "id": name, "status": "skip", "message": str(exc)})
        emit({"event": "done"})
        return
    _common.add_duplicates(module, short, harness.loop_factory, _harness_scope)
    tests = list(_flatten(unittest.defaultTestLoader.loadTestsFromModule(module)))
    if args.only:
        with open(args.only, encoding="utf-8") as f:
            wanted = {line.strip() for line in f if line.strip()}
        tests = [t for t in tests if t.id() in wanted]
    emit({"event": "plan", "ids": [t.id() for t in tests]})
    result = Result(emit, harness, args.timeout, hang_file)
    unittest.TestSuite(tests).run(result)
    emit({"event": "done"})
    out.close()
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter teardown: a test that leaves a non-daemon thread
    # behind must not make the child hang after the last record.
    os._exit(0)


if __name__ == "__main__":
    main()
