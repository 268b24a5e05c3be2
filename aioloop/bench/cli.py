"""``python -m aioloop bench``: aioloop against asyncio, uvloop and rloop, side by side.

Parses the options, builds the C helpers, runs the plan (runner.py) and
prints the report (report.py).  Failed cells are results, not errors: the
exit status is 0 unless the options are wrong (2) or the run is interrupted (130).
"""

import argparse
import datetime
import fnmatch
import importlib.util
import json
import math
import os
import platform
import sys
import sysconfig
import time

from . import cbuild, loops, multicore, plot, progress, report
from .model import Settings
from .runner import SUITES, Plan, run

QUICK = {"rounds": 1, "duration": 1.0, "warmup": 0.3, "repeat": 1}
FULL = {"rounds": 5, "duration": 2.0, "warmup": 0.5, "repeat": 3}


def parse_args(argv):
    p = argparse.ArgumentParser(
        prog="python -m aioloop bench",
        description="Benchmark aioloop against stock asyncio (the baseline), uvloop and rloop when installed, "
                    "the C reference server, and any loop given as module:factory.",
        epilog="Every figure is a median over rounds with its spread; ratios are to asyncio in the "
               "same round, above 1 is better.  See benchmarks/README.md.")
    p.add_argument("--quick", action="store_true",
                   help="one short round of a few workloads (under a minute)")
    p.add_argument("--rounds", type=int, help=f"rounds (default {FULL['rounds']}, --quick {QUICK['rounds']})")
    p.add_argument("--duration", type=float,
                   help=f"seconds measured per network cell (default {FULL['duration']:g}, --quick {QUICK['duration']:g})")
    p.add_argument("--warmup", type=float,
                   help=f"seconds of echo load before measuring (default {FULL['warmup']:g}, --quick {QUICK['warmup']:g})")
    p.add_argument("--repeat", type=int,
                   help=f"micro: timed runs per cell, the fastest counts (default {FULL['repeat']}, "
                        f"--quick {QUICK['repeat']})")
    p.add_argument("--connections", type=int, default=10, help="echo connections (default 10)")
    p.add_argument("--loops", help="comma-separated: asyncio, aioloop, aioloop-t2 (thread 0 of a 2-thread Scheduler), "
                                   "uvloop, rloop, c-epoll, module:factory "
                                   "or name=module:factory (default: asyncio, aioloop, uvloop and rloop if installed, "
                                   "c-epoll if a C compiler exists); asyncio is always added")
    p.add_argument("--suite", default="echo,http,micro,multicore",
                   help="comma-separated suites (default echo,http,micro,multicore)")
    p.add_argument("--workloads", help="comma-separated glob patterns on workload ids (see --list)")
    p.add_argument("--list", action="store_true", help="list the workloads and exit")
    p.add_argument("--python", action="append", default=[], metavar="NAME=PATH",
                   help="multicore suite: also run its cells under interpreter PATH, as rows "
                        "'VARIANT [NAME]' beside this interpreter's (repeatable; PATH must import "
                        "aioloop from this tree; a free-threaded one runs with PYTHON_GIL=0)")
    p.add_argument("--max-threads", type=int, metavar="K",
                   help="multicore CPU workloads: also measure thread counts doubling from "
                        "cpu_count + 1 up to K (2 CPUs, 16: k = 1 2 3 4 8 16)")
    p.add_argument("--json", metavar="FILE", help="write the full report as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="bar chart of the ratios (needs matplotlib)")
    p.add_argument("--markdown", metavar="FILE",
                   help="write the summary table and the report as Markdown (benchmarks/RESULTS.md); "
                        "a trailing '## Callgrind: ...' section already in FILE is kept")
    p.add_argument("--samples", metavar="DIR", help="write per-round samples as ministat input files")
    p.add_argument("--client", choices=("auto", "c", "python"), default="auto",
                   help="echo load client: the C one (built with cc), the Python fallback, or auto")
    p.add_argument("--pin", choices=("same", "separate", "none"), default="same",
                   help="CPU placement of each server and its load client: both on one CPU "
                        "(default: the setting the published peer figures used), one CPU each, or not pinned")
    p.add_argument("--timeout", type=float, default=120.0,
                   help="seconds a micro benchmark or a server's start may take before its cell "
                        "fails (default 120)")
    p.add_argument("--progress", choices=("auto", "rich", "tqdm", "plain", "none"), default="auto")
    args = p.parse_args(argv)
    preset = QUICK if args.quick else FULL
    for name, value in preset.items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    if min(args.rounds, args.repeat, args.connections) < 1 or args.duration <= 0 or args.warmup < 0:
        p.error("--rounds, --repeat, --duration and --connections must be positive, --warmup not negative")
    if args.max_threads is not None and args.max_threads < 1:
        p.error("--max-threads must be positive")
    try:
        args.pythons = parse_pythons(args.python)
    except ValueError as e:
        p.error(str(e))
    args.suites = [s.strip() for s in args.suite.split(",") if s.strip()]
    for s in args.suites:
        if s not in SUITES:
            p.error(f"unknown suite {s!r}: choose from {', '.join(SUITES)}")
    try:
        if args.loops:
            args.loop_specs, args.loop_notes = loops.parse(args.loops), []
        else:
            args.loop_specs, args.loop_notes = loops.defaults()
    except ValueError as e:
        p.error(str(e))
    return args


def parse_pythons(items):
    """{NAME: PATH} from --python NAME=PATH values, in order.  Raises ValueError for
    a malformed item, a repeated name, or a PATH that is not an executable file."""
    out = {}
    for item in items:
        name, sep, path = item.partition("=")
        name = name.strip()
        if not sep or not name or not path:
            raise ValueError(f"--python {item!r}: expected NAME=PATH, e.g. 3.13t=/usr/bin/python3.13t")
        if any(c in name for c in "[],= "):
            raise ValueError(f"--python {item!r}: NAME may not contain spaces or any of [ ] , =")
        if name in out:
            raise ValueError(f"--python {name}: given twice")
        if not (os.path.isfile(path) and os.access(path, os.X_OK)):
            raise ValueError(f"--python {item!r}: {path} is not an executable file")
        out[name] = path
    return out


def build_tag():
    """This interpreter as a short build name: '3.12', '3.13t' (free-threaded)."""
    free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    return f"{sys.version_info.major}.{sys.version_info.minor}{'t' if free else ''}"


def select_workloads(args):
    """The workloads to run: --workloads picks from all of them, even with --quick;
    otherwise --quick means each suite's short list."""
    chosen = []
    for suite in args.suites:
        chosen += SUITES[suite].workloads(quick=args.quick and not args.workloads)
    if args.workloads:
        patterns = [x.strip() for x in args.workloads.split(",") if x.strip()]
        chosen = [w for w in chosen if any(fnmatch.fnmatch(w.id, pat) for pat in patterns)]
    return chosen


def prepare(args, workloads, notes):
    """Settings for this machine: CPUs to pin to, the C helpers built (or why not)."""
    settings = Settings(duration=args.duration, warmup=args.warmup, connections=args.connections,
                        repeat=args.repeat, start_timeout=args.timeout, micro_timeout=args.timeout)
    cpus = sorted(os.sched_getaffinity(0))
    if args.pin == "same":
        settings.client_cpu = settings.server_cpu = cpus[-1]
    elif args.pin == "separate" and len(cpus) >= 2:
        settings.client_cpu, settings.server_cpu = cpus[0], cpus[1]
    if any(w.suite == "echo" or w.id == "multicore-echo" for w in workloads) and args.client != "python":
        try:
            settings.client = str(cbuild.build("echo_client"))
        except cbuild.BuildError as e:
            if args.client == "c":
                raise SystemExit(f"error: cannot build the C load client: {e}")
            notes.append(f"echo load client: the Python fallback, as the C one cannot be built ({e})")
    # the C reference takes part only in network workloads
    specs = [lp for lp in args.loop_specs if not lp.native or any(w.native for w in workloads)]
    if any(lp.native for lp in specs):
        try:
            settings.ref_server = str(cbuild.build("ref_server"))
        except cbuild.BuildError as e:
            notes.append(f"{loops.C_REFERENCE}: left out, the C reference server cannot be built ({e})")
            specs = [lp for lp in specs if not lp.native]
    if any(multicore.C_FLOOR in w.params.get("variants", ()) for w in workloads):
        try:
            settings.pingpong = str(cbuild.build("eventfd_pingpong"))
        except cbuild.BuildError as e:
            notes.append(f"{multicore.C_FLOOR}: the C ping-pong cannot be built ({e}); its cells fail")
    return settings, specs


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def python_build():
    """{"python_build": "free-threaded" or "default", "gil": "off" or "on"} of this process
    (the bench's workers run the same interpreter with the same environment)."""
    free = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    enabled = getattr(sys, "_is_gil_enabled", lambda: True)()
    return {"python_build": "free-threaded" if free else "default", "gil": "on" if enabled else "off"}


def describe_method(plan, args):
    s = plan.settings
    lines = [f"{plan.rounds} round{'s' if plan.rounds > 1 else ''}{' (--quick)' if args.quick else ''}; "
             "within a round the loops run one after another, in an order rotated each round; "
             "every cell in a process of its own."]
    suites = {w.suite for w in plan.workloads}
    if not suites & {"echo", "http"}:
        pass        # no server, nothing pinned
    elif s.server_cpu is None:
        lines.append("server and load client not pinned to CPUs.")
    elif s.server_cpu == s.client_cpu:
        lines.append(f"server and its load client pinned to one CPU (CPU {s.server_cpu}).")
    else:
        lines.append(f"server pinned to CPU {s.server_cpu}, load client to CPU {s.client_cpu}.")
    if "echo" in suites:
        client = ("the C epoll load client" if s.client else
                  "the Python fallback load client (slower than the C one: req/s and latency describe it)")
        lines.append(f"echo: {client}, {s.connections} connections with one request in flight each, "
                     f"{s.warmup:g} s warm-up then {s.duration:g} s measured per cell.")
    if "http" in suites and "http" not in plan.skipped:
        lines.append(f"HTTP: wrk -t1 -c{s.http_connections}, {max(1, math.ceil(s.duration))} s per cell.")
    if "micro" in suites:
        runs = "one timed run" if s.repeat == 1 else f"the fastest of {s.repeat} timed runs"
        lines.append(f"micro: a warm-up at a tenth of the size, then {runs} per cell.")
    if "multicore" in suites:
        lines.append("multicore: each variant in a process of its own, a warm-up at a tenth of the size "
                     "then one timed run; the speed-ups of the CPU workload are taken within one "
                     "process, over its own k=1 run.")
        builds = getattr(args, "builds", None) or {}
        if builds:
            lines.append(f"multicore rows without a [NAME] ran under this interpreter ({build_tag()}); "
                         "each other build's rows ran under its own, each row's ratio is to its own "
                         "build's baseline row:")
            for name, b in builds.items():
                env = " ".join(f"{k}={v}" for k, v in b["env"].items())
                lines.append(f"  [{name}] {b['python']}: {b['version']}, {b['python_build']} build"
                             + (f", workers run with {env}" if env else "")
                             + f", GIL {b['gil']} after importing aioloop.")
    return lines


def estimate_seconds(plan):
    s = plan.settings
    per = {"echo": s.warmup + s.duration + 0.4, "http": max(1, math.ceil(s.duration)) + 0.4,
           "micro": 0.6 + 0.5 * s.repeat}
    return sum(multicore.estimate_seconds(w, s) if w.suite == "multicore" else per[w.suite]
               for r in range(plan.rounds) for w, _ in plan.cells(r))


def main(argv=None):
    argv_used = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv_used)
    workloads = select_workloads(args)
    if args.list:
        for w in workloads:
            print(f"{w.id:<24} {w.title}")
        return 0
    if not workloads:
        print("error: no workload selected", file=sys.stderr)
        return 2
    if args.plot and importlib.util.find_spec("matplotlib") is None:
        # Said before the run, not after minutes of it.
        print("error: --plot needs matplotlib (pip install 'aioloop[plot]')", file=sys.stderr)
        return 2
    builds = {}
    if args.pythons:
        if not any(w.suite == "multicore" for w in workloads):
            print("error: --python applies to the multicore suite, which is not selected", file=sys.stderr)
            return 2
        for name, path in args.pythons.items():
            try:
                builds[name] = multicore.probe_build(path)
            except ValueError as e:
                print(f"error: --python {name}: {e}", file=sys.stderr)
                return 2
    workloads = multicore.configure(workloads, max_threads=args.max_threads, builds=builds)
    notes = list(args.loop_notes)
    settings, specs = prepare(args, workloads, notes)
    skipped = {}
    if any(w.suite == "http" for w in workloads):
        reason = SUITES["http"].unavailable()
        if reason:
            skipped["http"] = reason
    args.builds = builds
    plan = Plan(workloads=workloads, loops=specs, rounds=args.rounds, settings=settings, skipped=skipped)
    if plan.total_cells() == 0:
        print(f"error: nothing to run ({'; '.join(skipped.values())})", file=sys.stderr)
        return 2

    print(f"aioloop bench: {plan.total_cells()} cells, about {estimate_seconds(plan) / 60:.1f} min "
          f"({', '.join(lp.name for lp in specs)})", file=sys.stderr)
    t0, load_before = time.monotonic(), os.getloadavg()[0]
    records = run(plan, progress.make(args.progress))
    meta = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        **python_build(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model(),
        "build_tag": build_tag(),
        "builds": builds,
        "loops": {lp.name: loops.describe(lp) for lp in specs},
        "notes": notes,
        "method": describe_method(plan, args),
        "rounds": plan.rounds,
        "quick": args.quick,
        "settings": dict(vars(settings)),
        "elapsed_s": round(time.monotonic() - t0, 1),
        # other work on the machine moves the absolute figures (ratios less): say how much there was
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "interrupted": records.interrupted,
    }
    result = report.build(plan, records, meta)
    sys.stdout.write(report.render(result))
    sys.stdout.flush()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
            f.write("\n")
        print(f"wrote {args.json}", file=sys.stderr)
    if args.samples:
        paths = report.write_samples(result, args.samples)
        print(f"wrote {len(paths)} sample files to {args.samples}/ "
              "(compare with: python -m aioloop.ministat A.txt B.txt)", file=sys.stderr)
    images, status = [], 130 if records.interrupted else 0
    if args.plot:
        try:
            images = plot.write(result, args.plot)
        except (ImportError, OSError) as exc:  # the report is printed: still write the rest
            print(f"no plot: {exc}", file=sys.stderr)
            status = 1
        for path in images:
            print(f"wrote {path}", file=sys.stderr)
    if args.markdown:
        # after the plots, which it embeds (paths relative to the Markdown file)
        report.write_markdown(args.markdown, result, "python -m aioloop bench " + " ".join(argv_used),
                              images=images)
        print(f"wrote {args.markdown}", file=sys.stderr)
    return status
