"""Run real applications' own test suites on aioloop (and on stock asyncio).

    python tests/integration/app_suites.py                  # both suites on aioloop
    python tests/integration/app_suites.py --loop asyncio   # the oracle run
    python tests/integration/app_suites.py --compare        # both loops, then the difference
    python tests/integration/app_suites.py --suite anyio -- -x -k subprocess

The suites are anyio's tests and a loop-heavy part of aiohttp's, taken from
the sdists of the versions installed in this Python (the `appsuites` extra
of pyproject.toml holds their test dependencies). An sdist is fetched with
`pip download` from the configured index into a cache outside the repo
(~/.cache/aioloop/app-suites, or $AIOLOOP_APPSUITES_CACHE), and only its
tests (and pytest configuration) are unpacked into a temporary folder, so the
installed anyio/aiohttp are the ones under test.

How the loop is chosen: app_suites_plugin.py (loaded with -p) makes aioloop
asyncio's event loop policy for the session, which is where aiohttp's
--aiohttp-loop=pyloop factory (asyncio.new_event_loop) and anyio's
("asyncio", {"debug": True}) backend get their loops; the plugin reports how
many loops of each kind were made. Test ids are the same on both loops.

app_suites_deselect.txt lists, each with its reason, the tests that fail on
both loops (the environment: deselected) and the ones that fail on aioloop
only and are not fixed yet (strict xfail on aioloop: a fix shows up as
XPASS and fails the run until the entry goes), and the few whose outcome
depends on thread timing (non-strict xfail). An entry is a node id (which
also covers its parametrisations) or an fnmatch pattern over node ids.
Everything else must pass: the exit status is non-zero if any selected test
fails or errors, or a suite does not finish.
The last line printed is a one-line summary of the counts.
"""

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib import metadata

HERE = os.path.dirname(os.path.abspath(__file__))
DESELECT_FILE = os.path.join(HERE, "app_suites_deselect.txt")
CACHE = os.environ.get("AIOLOOP_APPSUITES_CACHE") or os.path.join(
    os.path.expanduser("~"), ".cache", "aioloop", "app-suites")

# Per suite: the distribution, what of its sdist to unpack, and the pytest
# arguments (run from the unpacked folder).
SUITES = {
    "anyio": {
        "dist": "anyio",
        "unpack": ["tests/", "pyproject.toml"],
        # Its own addopts (pyproject.toml) load anyio, pytest_mock and
        # timeout and keep pytest-asyncio and trio's plugin out.
        "args": ["tests"],
        # Only the plain asyncio backend param ("asyncio", {"debug": True}):
        # not uvloop's, not trio's (not installed), and not the eager task
        # factory's (it runs on the policy's loop too, but doubles the time).
        "scope": {
            "*asyncio+uvloop*": "another loop",
            "*asyncio+eager*": "the eager task factory variant: the CI time budget",
            "*[[]trio]": "trio backend", "*[[]trio-*": "trio backend",
            "*-trio]": "trio backend", "*-trio-*": "trio backend",
        },
    },
    "aiohttp": {
        "dist": "aiohttp",
        # README.rst: test_static_file_directory_traversal_attack serves it.
        "unpack": ["tests/", "pytest.ini", "README.rst"],
        # Its addopts want xdist, coverage and doctests of the package:
        # replaced by the marker filter they also carry.
        "args": [
            "-o", "addopts=", "-m", "not dev_mode and not autobahn and not internal",
            "-p", "no:asyncio", "--aiohttp-loop=pyloop",
            "tests/test_client_functional.py",
            "tests/test_web_functional.py",
            "tests/test_web_websocket_functional.py",
            "tests/test_client_ws_functional.py",
            "tests/test_web_server.py",
            "tests/test_web_sendfile_functional.py",
            "tests/test_run_app.py",
        ],
    },
}


def sdist(dist):
    """Path of the cached sdist of the installed version of `dist`."""
    version = metadata.version(dist)
    os.makedirs(CACHE, exist_ok=True)
    for name in (f"{dist}-{version}.tar.gz", f"{dist.replace('-', '_')}-{version}.tar.gz"):
        path = os.path.join(CACHE, name)
        if os.path.exists(path):
            return path
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "-q", "--no-binary", ":all:", "--no-deps",
         "-d", CACHE, f"{dist}=={version}"],
        check=True)
    for name in (f"{dist}-{version}.tar.gz", f"{dist.replace('-', '_')}-{version}.tar.gz"):
        path = os.path.join(CACHE, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"app_suites: pip download left no sdist of {dist}=={version} in {CACHE}")


def unpack(path, wanted, dest):
    with tarfile.open(path) as tar:
        members = []
        for m in tar.getmembers():
            parts = m.name.split("/", 1)
            if len(parts) < 2 or not any(parts[1] == w or (w.endswith("/") and parts[1].startswith(w)) for w in wanted):
                continue
            m.name = parts[1]
            members.append(m)
        tar.extractall(dest, members=members, filter="data")


def deselections():
    """{suite: {nodeid: reason}} from app_suites_deselect.txt."""
    found = {}
    with open(DESELECT_FILE) as f:
        for n, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            head, sep, reason = line.partition("|")
            fields = head.split()
            reason = reason.strip()
            if (not sep or len(fields) != 2 or fields[0] not in SUITES
                    or not reason.startswith(("both:", "aioloop:", "flaky:")) or len(reason) < 15):
                raise SystemExit(f"{DESELECT_FILE}:{n}: expected "
                                 "'<suite> <node id or pattern> | both:|aioloop:|flaky: <reason>'")
            found.setdefault(fields[0], {})[fields[1]] = reason
    return found


def run_suite(name, loop, extra, timeout):
    spec = SUITES[name]
    with tempfile.TemporaryDirectory(prefix=f"aioloop-{name}-") as tmp:
        unpack(sdist(spec["dist"]), spec["unpack"], tmp)
        results_path = os.path.join(tmp, "results.json")
        deselect_path = os.path.join(tmp, "deselect.json")
        patterns = {p: "scope: " + why for p, why in spec.get("scope", {}).items()}
        patterns.update(deselections().get(name, {}))
        with open(deselect_path, "w") as f:
            json.dump(patterns, f)
        env = dict(os.environ,
                   AIOLOOP_APPSUITE_LOOP=loop,
                   AIOLOOP_APPSUITE_RESULTS=results_path,
                   AIOLOOP_APPSUITE_DESELECT=deselect_path,
                   PYTHONPATH=os.pathsep.join(p for p in (HERE, os.environ.get("PYTHONPATH")) if p))
        args = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                "-p", "app_suites_plugin", "-rfE", "--tb=short", *spec["args"]]
        args += extra
        print(f"=== {name} {metadata.version(spec['dist'])} on {loop}", flush=True)
        t0 = time.monotonic()
        try:
            rc = subprocess.run(args, cwd=tmp, env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = None
        elapsed = time.monotonic() - t0
        data = {"results": {}, "counts": {}, "deselected": {}}
        if os.path.exists(results_path):
            with open(results_path) as f:
                data = json.load(f)
    counts = {}
    for outcome, _ in data["results"].values():
        counts[outcome] = counts.get(outcome, 0) + 1
    return {"suite": name, "loop": loop, "rc": rc, "elapsed": elapsed, "counts": counts,
            "deselected": data["counts"].get("deselected", 0), "results": data["results"],
            "loops_made": {k: data["counts"].get(k, 0) for k in ("aioloop", "stock")},
            "stale": [p for p, n in data["deselected"].items() if n == 0]}


def describe(r):
    c = r["counts"]
    bad = c.get("failed", 0) + c.get("error", 0)
    text = (f"{r['suite']} {c.get('passed', 0)} passed, {bad} failed, {r['deselected']} deselected, "
            f"{c.get('skipped', 0)} skipped")
    for k in ("xfailed", "xpassed"):
        if c.get(k):
            text += f", {c[k]} {k}"
    if r["rc"] is None:
        text += " (TIMED OUT)"
    return text + f" ({r['elapsed']:.0f}s)"


def ok(r):
    # pytest exits 0 when every selected test passed (or skipped/xfailed).
    return r["rc"] == 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suite", choices=[*SUITES, "all"], default="all")
    ap.add_argument("--loop", choices=["aioloop", "asyncio"], default="aioloop")
    ap.add_argument("--compare", action="store_true",
                    help="run on asyncio and on aioloop; list the tests that fail only on aioloop")
    ap.add_argument("--timeout", type=float, default=600, help="seconds allowed per suite run")
    ap.add_argument("--json", metavar="PATH", help="write every test's outcome there")
    ap.add_argument("pytest_args", nargs="*", help="after --: passed on to pytest")
    opts = ap.parse_args()
    suites = list(SUITES) if opts.suite == "all" else [opts.suite]
    loops = ["asyncio", "aioloop"] if opts.compare else [opts.loop]

    runs = [run_suite(s, lp, opts.pytest_args, opts.timeout) for s in suites for lp in loops]
    status = 0 if all(ok(r) for r in runs) else 1
    if opts.json:
        with open(opts.json, "w") as f:
            json.dump(runs, f, indent=1)

    if opts.compare:
        for s in suites:
            a = next(r for r in runs if r["suite"] == s and r["loop"] == "asyncio")["results"]
            b = next(r for r in runs if r["suite"] == s and r["loop"] == "aioloop")["results"]
            bad = ("failed", "error")
            only = sorted(n for n, (o, _) in b.items() if o in bad and a.get(n, ["?"])[0] not in bad)
            both = sorted(n for n, (o, _) in b.items() if o in bad and a.get(n, ["?"])[0] in bad)
            only_asyncio = sorted(n for n, (o, _) in a.items() if o in bad and b.get(n, ["?"])[0] not in bad)
            print(f"--- {s}: fail on aioloop only ({len(only)})")
            for n in only:
                print(f"  {n}  | {b[n][1]}")
            print(f"--- {s}: fail on both loops ({len(both)})")
            for n in both:
                print(f"  {n}  | asyncio: {a[n][1]}")
            print(f"--- {s}: fail on asyncio only ({len(only_asyncio)})")
            for n in only_asyncio:
                print(f"  {n}  | {a[n][1]}")

    for r in runs:
        if r["loop"] == "aioloop" and r["loops_made"]["aioloop"] == 0 and r["results"]:
            print(f"app_suites: {r['suite']} made no aioloop loop: the plugin did not take effect")
            status = 1
    by_loop = {}
    for r in runs:
        by_loop.setdefault(r["loop"], []).append(describe(r))
    print("; ".join(f"app suites on {lp}: " + "; ".join(v) for lp, v in by_loop.items())
          + (" -- OK" if status == 0 else " -- FAILED"))
    return status


if __name__ == "__main__":
    sys.exit(main())
