"""pytest plugin loaded (-p app_suites_plugin) into another project's own test
suite by app_suites.py; not a test module of ours.

AIOLOOP_APPSUITE_LOOP=aioloop makes aioloop asyncio's event loop policy for the
whole session, so every loop the suite makes through asyncio.new_event_loop()
or asyncio.run()/Runner without a factory is an aioloop Loop. That is where
both suites get their loops: aiohttp's pytest plugin builds its `loop`
fixture from the --aiohttp-loop=pyloop factory, which is
asyncio.new_event_loop, and anyio's `anyio_backend` param
("asyncio", {"debug": True}) runs asyncio.Runner(debug=True) with no factory.
Test ids stay the same on both loops, so one deselection list serves both.
AIOLOOP_APPSUITE_LOOP=asyncio leaves asyncio alone (the oracle run).

The policy is put back before every test (a test may reset it), and the
session reports how many loops of each kind were made: an aioloop run in
which the suite's loops were stock ones would otherwise pass silently.

AIOLOOP_APPSUITE_DESELECT names a JSON file of {pattern: reason}; a pattern
is a node id (which matches its parametrisations too) or an fnmatch pattern.
A reason that starts with "both:" (the test fails on both loops) deselects
the tests it matches on both loops. One that starts with "aioloop:" (a known
aioloop failure, not fixed yet) marks them xfail(strict=True) on aioloop
only: they still run, a fix turns them into XPASS, which fails the run until
the entry is removed, and on asyncio they must pass. "flaky:" (a test whose
outcome depends on thread timing) marks them xfail(strict=False) on both
loops: they run, and either outcome is recorded. "scope:" entries come
from app_suites.py (what the run leaves out by design, such as anyio's uvloop
param) and are dropped on both loops. Patterns that match nothing are
reported (a stale entry).

AIOLOOP_APPSUITE_RESULTS names a JSON file that receives each test's outcome
({nodeid: [outcome, one-line reason]}), read by app_suites.py.
"""

import asyncio
import asyncio.base_events
import fnmatch
import json
import os

import pytest

LOOP = os.environ.get("AIOLOOP_APPSUITE_LOOP", "asyncio")
_counts = {"aioloop": 0, "stock": 0, "deselected": 0, "out_of_scope": 0}
_results = {}
_deselected = {}    # pattern -> number of tests it took out


def _install_counters():
    import aioloop

    base_init = asyncio.base_events.BaseEventLoop.__init__

    def counting_init(self, *args, **kwargs):
        _counts["stock"] += 1
        base_init(self, *args, **kwargs)

    asyncio.base_events.BaseEventLoop.__init__ = counting_init

    class CountingPolicy(aioloop.EventLoopPolicy):
        def new_event_loop(self):
            loop = super().new_event_loop()
            _counts["aioloop"] += 1
            return loop

    return CountingPolicy


_policy_class = None


def pytest_configure(config):
    global _policy_class
    if LOOP not in ("aioloop", "asyncio"):
        raise pytest.UsageError(f"AIOLOOP_APPSUITE_LOOP must be aioloop or asyncio, not {LOOP!r}")
    if LOOP == "aioloop":
        _policy_class = _install_counters()
        asyncio.set_event_loop_policy(_policy_class())


@pytest.fixture(autouse=True)
def _aioloop_appsuite_policy():
    if _policy_class is not None and not isinstance(asyncio.events._event_loop_policy, _policy_class):
        asyncio.set_event_loop_policy(_policy_class())
    yield


def _matches(nodeid, pattern):
    return (nodeid == pattern or nodeid.startswith(pattern + "[")
            or nodeid.startswith(pattern + "::") or fnmatch.fnmatchcase(nodeid, pattern))


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    path = os.environ.get("AIOLOOP_APPSUITE_DESELECT")
    if not path:
        return
    with open(path) as f:
        patterns = json.load(f)
    _deselected.update({p: 0 for p in patterns})
    keep, drop = [], []
    for item in items:
        hit = next((p for p in patterns if _matches(item.nodeid, p)), None)
        if hit is None:
            keep.append(item)
            continue
        _deselected[hit] += 1
        kind = patterns[hit].split(":", 1)[0]
        if kind == "scope":
            _counts["out_of_scope"] += 1
            drop.append(item)
        elif kind == "both":
            _counts["deselected"] += 1
            drop.append(item)
        elif kind == "flaky":
            keep.append(item)
            item.add_marker(pytest.mark.xfail(reason=patterns[hit], strict=False))
        else:
            keep.append(item)
            if LOOP == "aioloop":
                item.add_marker(pytest.mark.xfail(reason=patterns[hit], strict=True))
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


def _outcome(report):
    if hasattr(report, "wasxfail"):
        return "xfailed" if report.skipped else "xpassed"
    if report.passed:
        return "passed"
    if report.skipped:
        return "skipped"
    return "failed" if report.when == "call" else "error"


def _reason(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None and crash.message:
        return crash.message.splitlines()[0][:300]
    return str(report.longrepr).strip().splitlines()[-1][:300] if report.longrepr else ""


def pytest_runtest_logreport(report):
    # setup decides unless it passed; then call; a failing teardown turns a
    # pass into an error.
    prev = _results.get(report.nodeid)
    if report.when == "setup":
        if not report.passed:
            _results[report.nodeid] = [_outcome(report), _reason(report) if report.failed else ""]
    elif report.when == "call":
        _results[report.nodeid] = [_outcome(report), _reason(report) if report.failed else ""]
    elif report.failed and (prev is None or prev[0] not in ("failed", "error")):
        _results[report.nodeid] = ["error", "teardown: " + _reason(report)]


def pytest_terminal_summary(terminalreporter):
    for pattern, n in _deselected.items():
        if n == 0:
            terminalreporter.write_line(f"aioloop app suite: deselection matches no test: {pattern}")
    if LOOP == "aioloop":
        terminalreporter.write_line(
            f"aioloop app suite: loops made: aioloop {_counts['aioloop']}, stock asyncio {_counts['stock']}")


def pytest_unconfigure(config):
    path = os.environ.get("AIOLOOP_APPSUITE_RESULTS")
    if path:
        with open(path, "w") as f:
            json.dump({"loop": LOOP, "counts": _counts, "results": _results,
                       "deselected": _deselected}, f)
