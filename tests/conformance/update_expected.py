"""Rewrite tests/conformance/expected-failures-X.Y.txt from an aioloop run.

    python tests/conformance/run.py --selected --json run.json
    python tests/conformance/update_expected.py run.json

Every selected test that did not pass on aioloop in the run is listed as
"test id<TAB>owner<TAB>reason"; tests that passed are dropped. The owner is
derived from the loop methods the test called (the child records calls of
every method aioloop.Loop still inherits from asyncio.AbstractEventLoop, and
of the networking and process methods it implements): first those aioloop
does not implement yet, then the networking/process methods it used:

    #3  networking (sock_*, getaddrinfo, create_connection/server, TLS, ...)
    #4  processes, pipes and signals (subprocess_*, connect_*_pipe, signals)
    #2  anything else: a core loop bug until someone triages it
    #5  the test passed on a stock loop: a routing bug of this harness

A test already listed that still fails keeps its line when the derived owner
is unchanged, so a hand-written reason survives a regeneration; a reason
that starts with "triaged:" is kept even when the owner was changed by hand
(for what the harness cannot see, such as a call made in a forked child). Tests of modules the run did not cover are kept as they were.
The file is per Python version: run this with the Python of the run.
"""

import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path
               if os.path.abspath(p or os.curdir) != _HERE] + [_HERE]

import argparse
import collections

import _common
from run import effective_status


def _owners(names):
    owners = []
    if any(n in _common.NET_METHODS for n in names):
        owners.append(_common.ISSUE_NET)
    if any(n in _common.PROC_METHODS for n in names):
        owners.append(_common.ISSUE_PROC)
    return owners


def classify(rec):
    """(owner, reason) for a failing aioloop result.

    1. The test called methods aioloop does not implement: their issues.
    2. Else it used networking/process methods that aioloop implements:
       their issues, to triage first (the failure is in or under them).
    3. Else the core loop (#2)."""
    status = effective_status(rec, "aioloop")
    msg = (rec.get("message") or "").replace("\t", " ").replace("\n", " ")[:200]
    missing = rec.get("unimplemented", [])
    used = rec.get("used", [])
    if status == "stock-loop":
        return "#5", "passed, but on a stock asyncio loop: routing bug in the harness"
    owners = _owners(missing)
    other = [n for n in missing if n not in _common.NET_METHODS
             and n not in _common.PROC_METHODS]
    if owners and not other:
        return "+".join(owners), "%s: needs %s (not implemented yet)" % (
            status, ", ".join(missing))
    if other:
        return _common.ISSUE_CORE, "%s: calls unimplemented %s; %s" % (
            status, ", ".join(other), msg)
    owners = _owners(used)
    if owners:
        return "+".join(owners), "%s (uses %s): %s" % (status, ", ".join(used), msg)
    return _common.ISSUE_CORE, "%s: %s" % (status, msg)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("run_json", help="run.py --json output of an aioloop run")
    ap.add_argument("--output", help="default: expected-failures-X.Y.txt of the run's Python")
    args = ap.parse_args(argv)

    run = _common.load_results(args.run_json)
    if run["mode"] != "aioloop":
        sys.exit("%s is a %s run, not an aioloop run" % (args.run_json, run["mode"]))
    ver = run["version"]
    selected = _common.read_list(_common.data_file("selected", ver))
    path = args.output or _common.data_file("expected-failures", ver)
    old = _common.read_list(path)
    modules_run = set(run["modules"])

    new = {}
    for tid in selected:
        rec = run["tests"].get(tid)
        if _common.module_of(tid) not in modules_run or rec is None:
            if tid in old:
                new[tid] = old[tid]
            continue
        if _common.passed_on_aioloop(rec):
            continue
        owner, reason = classify(rec)
        kept = old.get(tid)
        if kept and len(kept) > 1 and (kept[0] == owner or kept[1].startswith("triaged:")):
            new[tid] = kept
        else:
            new[tid] = [owner, reason]

    owners = collections.Counter(v[0] for v in new.values())
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Selected tests of test.test_asyncio (Python %s) that do not pass on\n"
                "# aioloop yet: test id<TAB>owning issue<TAB>reason.\n"
                "# Regenerate: run.py --selected --json r.json && update_expected.py r.json\n"
                "# (reasons of lines whose owner does not change are kept, and lines\n"
                "# whose reason starts with 'triaged:').\n" % ver)
        for tid in sorted(new):
            f.write("\t".join([tid] + new[tid]) + "\n")
    removed = sorted(set(old) - set(new))
    added = sorted(set(new) - set(old))
    print("%s: %d expected failures (%s); %d added, %d removed" % (
        path, len(new), ", ".join("%s: %d" % kv for kv in sorted(owners.items())),
        len(added), len(removed)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
