"""Run CPython's own test.test_asyncio against aioloop (or stock asyncio).

    python tests/conformance/run.py                    # every test, on aioloop
    python tests/conformance/run.py --selected         # the loop-agnostic set
    python tests/conformance/run.py --check            # CI: selected set vs expectations
    python tests/conformance/run.py --stock            # every test, on stock asyncio
    python tests/conformance/run.py --modules test_events test_tasks --json out.json

The Python running this script is the one tested (its own test.test_asyncio,
and aioloop as installed in it). Each module runs in a child process
(_child.py) with a per-test timeout; a test that hangs or crashes the child is
recorded as "timeout" or "crash" and a new child runs the rest of the module.

aioloop mode routes every test to aioloop: aioloop's policy is installed
before every test, and the test classes that construct
asyncio.SelectorEventLoop() themselves run once more as Aioloop_* classes
with aioloop's loop (see _common.DUPLICATES). The child counts the loops each
test makes: a test counts as passing on aioloop only if it made an aioloop
loop and no stock asyncio loop (status "stock-loop" otherwise).

--check compares with tests/conformance/selected-X.Y.txt and
expected-failures-X.Y.txt: exit 1 if a selected test that is not listed as
an expected failure does not pass on aioloop (after one retry in a fresh
child; a pass on the retry is reported as FLAKY). Tests that pass but are
still listed are reported as NOW PASSING, so the list can shrink
(update_expected.py rewrites it). See README.md in this folder.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path
               if os.path.abspath(p or os.curdir) != _HERE] + [_HERE]

import argparse
import collections
import json
import platform
import re
import shutil
import signal
import subprocess
import tempfile
import time

import _common

CHILD = os.path.join(_HERE, "_child.py")
STATUSES = ("pass", "fail", "error", "skip", "timeout", "crash",
            "xfail", "xpass")


def _read_records(path, pos):
    """New complete JSON lines of `path` from byte offset pos."""
    recs = []
    try:
        with open(path, "rb") as f:
            f.seek(pos)
            data = f.read()
    except FileNotFoundError:
        return recs, pos
    end = data.rfind(b"\n")
    if end < 0:
        return recs, pos
    for line in data[:end].split(b"\n"):
        if line.strip():
            recs.append(json.loads(line))
    return recs, pos + end + 1


def _kill_group(p):
    try:
        os.killpg(p.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _tail(path, limit=4000):
    try:
        with open(path, "r", errors="replace") as f:
            return f.read()[-limit:]
    except FileNotFoundError:
        return ""


def run_module(python, module, mode, only, timeout, workdir, log):
    """Run one module, restarting after hangs and crashes. Returns
    ({test_id: record}, [fixture records], seconds)."""
    results = {}
    fixtures = []
    plan = None
    remaining = only
    attempt = 0
    t_start = time.monotonic()
    while True:
        attempt += 1
        out = os.path.join(workdir, "%s.%d.jsonl" % (module, attempt))
        hang = os.path.join(workdir, "%s.%d.hang" % (module, attempt))
        cmd = [python, "-u", CHILD, "--module", module, "--mode", mode,
               "--out", out, "--hang-file", hang, "--timeout", str(timeout)]
        if remaining is not None:
            ids_file = os.path.join(workdir, "%s.%d.ids" % (module, attempt))
            with open(ids_file, "w") as f:
                f.write("\n".join(remaining) + "\n")
            cmd += ["--only", ids_file]
        log.write("\n=== %s attempt %d: %s\n" % (module, attempt, " ".join(cmd)))
        log.flush()
        env = dict(os.environ, PYTHONFAULTHANDLER="1")
        p = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL, start_new_session=True,
                             env=env, cwd=workdir)
        pos = 0
        current = None
        last_progress = time.monotonic()
        killed = False
        done = False
        n_before = len(results)
        calls = collections.defaultdict(dict)
        while True:
            rc = p.poll()
            recs, pos = _read_records(out, pos)
            for rec in recs:
                last_progress = time.monotonic()
                ev = rec["event"]
                if ev == "plan":
                    if plan is None:
                        plan = rec["ids"]
                elif ev == "start":
                    current = rec["id"]
                elif ev == "end":
                    rec.pop("event")
                    results[rec.pop("id")] = rec
                    current = None
                elif ev == "call":
                    calls[rec["id"]][rec["name"]] = rec["unimplemented"]
                elif ev == "fixture":
                    fixtures.append(rec)
                elif ev == "done":
                    done = True
            if rc is not None:
                break
            # Backstop for hangs faulthandler cannot see (class or module
            # fixtures, or a child stuck before its first test).
            if time.monotonic() - last_progress > timeout + 60:
                _kill_group(p)
                killed = True
                p.wait()
                continue
            time.sleep(0.1)
        _kill_group(p)   # leftover grandchildren
        if done:
            break
        hang_text = _tail(hang)
        if current is not None:
            timed_out = killed or "Timeout (" in hang_text
            results[current] = {
                "status": "timeout" if timed_out else "crash",
                "message": ("no result after %ss" % timeout) if timed_out
                           else "child exited with status %s" % rc,
                "traceback": hang_text,
                "seconds": timeout if timed_out else None,
                "loops": {},
            }
            if calls.get(current):
                results[current]["used"] = sorted(calls[current])
                missing = sorted(n for n, u in calls[current].items() if u)
                if missing:
                    results[current]["unimplemented"] = missing
        elif plan is None:
            # The module did not even load: one record for all of it.
            results[module] = {"status": "crash", "loops": {},
                               "message": "child exited with status %s before "
                                          "running any test" % rc,
                               "traceback": hang_text}
            break
        else:
            fixtures.append({"desc": "(between tests)", "status": "error",
                             "message": "child exited with status %s%s" % (
                                 rc, " (killed: no progress)" if killed else ""),
                             "traceback": hang_text})
        if plan is None:
            break
        remaining = [t for t in plan if t not in results]
        if not remaining or len(results) == n_before:
            break
    # Tests of the plan that never reported: their class or module fixture
    # failed or skipped ("setUpClass (test.test_asyncio.m.C)"); they share its
    # status.
    scoped = []
    for f in fixtures:
        m = re.search(r"\(([\w.]+)\)", f.get("desc", ""))
        if m:
            scoped.append((m.group(1) + ".", f))
    for t in plan or ():
        if t in results:
            continue
        for prefix, f in scoped:
            if t.startswith(prefix):
                results[t] = {"status": f["status"], "loops": {},
                              "message": ("%s: %s" % (f["desc"], f.get("message", "")))[:500]}
                break
        else:
            msg = "; ".join(sorted({f.get("message", "") for f in fixtures})) or "no result"
            results[t] = {"status": "error", "loops": {},
                          "message": ("not run: " + msg)[:500]}
    return results, fixtures, time.monotonic() - t_start


def effective_status(rec, mode):
    """The status that counts: on aioloop, a pass on a stock loop (or on no
    loop at all) is not a pass."""
    st = rec["status"]
    if mode == "aioloop" and st in ("pass", "xfail") and not _common.routed(rec):
        return "stock-loop"
    return st


def summarize(results, mode):
    counts = collections.Counter(effective_status(r, mode) for r in results.values())
    return counts


def fmt_counts(c):
    keys = [k for k in ("pass", "fail", "error", "skip", "timeout", "crash",
                        "stock-loop", "xfail", "xpass") if c.get(k)]
    return " ".join("%s %d" % (k, c[k]) for k in keys) or "no tests"


def check(results, wanted, expected):
    """Compare an aioloop run of the selected tests `wanted` with the
    expected failures. Returns (unexpected, fixed, expected_failing, passing)."""
    unexpected, fixed, exp_fail, passing = [], [], [], []
    for tid in sorted(wanted):
        rec = results.get(tid)
        ok = rec is not None and _common.passed_on_aioloop(rec)
        if ok:
            passing.append(tid)
            if tid in expected:
                fixed.append(tid)
        elif tid in expected:
            exp_fail.append(tid)
        else:
            unexpected.append(tid)
    return unexpected, fixed, exp_fail, passing


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--modules", nargs="+", metavar="MOD",
                    help="test_asyncio modules to run (default: all)")
    ap.add_argument("--json", metavar="OUT", help="write every result here")
    ap.add_argument("--stock", action="store_true",
                    help="run on stock asyncio instead of aioloop")
    ap.add_argument("--selected", action="store_true",
                    help="run only the tests in selected-X.Y.txt")
    ap.add_argument("--check", action="store_true",
                    help="run the selected set; exit 1 on unexpected failures")
    ap.add_argument("--retries", type=int, default=1, choices=(0, 1),
                    help="--check: run unexpected failures once more (default 1)")
    ap.add_argument("--strict", action="store_true",
                    help="--check: also fail when a listed failure now passes")
    ap.add_argument("--tests", nargs="+", metavar="ID",
                    help="run only these test ids")
    ap.add_argument("--timeout", type=float, default=30.0,
                    help="per-test timeout in seconds (default 30)")
    ap.add_argument("--keep", metavar="DIR",
                    help="keep child logs and raw records in DIR")
    ap.add_argument("--quiet", "-q", action="store_true",
                    help="no per-module lines")
    ap.add_argument("--verbose", "-v", action="store_true",
                    help="print every test that does not pass")
    args = ap.parse_args(argv)

    mode = "stock" if args.stock else "aioloop"
    if args.check and args.stock:
        ap.error("--check compares aioloop with its expectations; not with --stock")
    ver = _common.py_version()
    python = sys.executable
    modules = args.modules or _common.all_modules()
    modules = [m.rsplit(".", 1)[-1] for m in modules]

    wanted = None
    selected = expected = None
    if args.check or args.selected:
        sel_path = _common.data_file("selected")
        if not os.path.exists(sel_path):
            print("error: %s not found (make it with select.py)" % sel_path,
                  file=sys.stderr)
            return 2
        selected = set(_common.read_list(sel_path))
        expected = _common.read_list(_common.data_file("expected-failures"))
        wanted = selected
    if args.tests:
        wanted = set(args.tests) if wanted is None else wanted & set(args.tests)
        modules = [m for m in modules
                   if any(_common.module_of(t) == m for t in wanted)]
    by_module = collections.defaultdict(list)
    if wanted is not None:
        for t in sorted(wanted):
            by_module[_common.module_of(t)].append(t)
        modules = [m for m in modules if by_module.get(m)]

    workdir = args.keep or tempfile.mkdtemp(prefix="aioloop-conformance-")
    os.makedirs(workdir, exist_ok=True)
    log_path = os.path.join(workdir, "children.log")
    all_results = {}
    per_module = {}
    t0 = time.monotonic()
    with open(log_path, "a") as log:
        for m in modules:
            only = by_module[m] if wanted is not None else None
            results, fixtures, secs = run_module(
                python, m, mode, only, args.timeout, workdir, log)
            all_results.update(results)
            counts = summarize(results, mode)
            per_module[m] = {"counts": dict(counts), "seconds": round(secs, 1),
                             "fixtures": fixtures}
            if not args.quiet:
                print("%-22s %-7s %-70s %6.1f s" % (m, mode, fmt_counts(counts), secs),
                      flush=True)
                if args.verbose:
                    for tid, rec in sorted(results.items()):
                        st = effective_status(rec, mode)
                        if st not in ("pass", "skip", "xfail"):
                            print("    %-10s %s  %s" % (st, tid, rec.get("message", "")[:150]))
    elapsed = time.monotonic() - t0

    rc = 0
    flaky = []
    if args.check:
        run_ids = {t for t in wanted if _common.module_of(t) in set(modules)}
        unexpected, fixed, exp_fail, passing = check(all_results, run_ids, expected)
        if unexpected and args.retries:
            # One more try, each module in a fresh child: a test that passes
            # now is reported as flaky, not failed.
            retry_by_module = collections.defaultdict(list)
            for tid in unexpected:
                retry_by_module[_common.module_of(tid)].append(tid)
            with open(log_path, "a") as log:
                for m, tids in sorted(retry_by_module.items()):
                    results, _, _ = run_module(
                        python, m, mode, tids, args.timeout, workdir, log)
                    for tid in tids:
                        if tid in results and _common.passed_on_aioloop(results[tid]):
                            flaky.append(tid)
                            all_results[tid] = dict(results[tid], flaky=True)
            elapsed = time.monotonic() - t0
            unexpected, fixed, exp_fail, passing = check(all_results, run_ids, expected)
        owners = collections.Counter(expected[t][0] if expected[t] else "?"
                                     for t in exp_fail)
        for tid in unexpected:
            rec = all_results.get(tid, {"status": "missing"})
            print("UNEXPECTED %-10s %s\n    %s" % (
                effective_status(rec, mode) if "loops" in rec else rec["status"],
                tid, " ".join(rec.get("message", "").split())[:300]))
        for tid in flaky:
            print("FLAKY (failed, then passed on a retry): %s" % tid)
        for tid in fixed:
            print("NOW PASSING (remove from expected-failures-%s.txt): %s" % (ver, tid))
        by_owner = ", ".join("%s: %d" % (k, owners[k]) for k in sorted(owners))
        print("conformance %s: %d passed, %d unexpected failures, "
              "%d expected failures (%s)%s%s, %.0f s" % (
                  ver, len(passing), len(unexpected), len(exp_fail),
                  by_owner or "none",
                  ", %d now passing" % len(fixed) if fixed else "",
                  ", %d flaky" % len(flaky) if flaky else "", elapsed))
        rc = 1 if unexpected or (args.strict and fixed) else 0
    else:
        total = summarize(all_results, mode)
        print("%s %s: %s (%d tests, %.0f s)" % (
            mode, ver, fmt_counts(total), len(all_results), elapsed))

    if args.json:
        report = {
            "python": platform.python_version(),
            "version": ver,
            "mode": mode,
            "timeout": args.timeout,
            "seconds": round(elapsed, 1),
            "modules": per_module,
            "tests": all_results,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=1, sort_keys=True)
    if args.keep is None:
        shutil.rmtree(workdir, ignore_errors=True)
    else:
        print("child logs: %s" % log_path)
    return rc


if __name__ == "__main__":
    sys.exit(main())
