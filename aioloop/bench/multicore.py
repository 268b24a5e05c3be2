"""Multi-core benchmarks: the Scheduler against plain threads and one-loop-per-thread asyncio.

Five workloads, each run under several *variants* (the rows of its table)
rather than under the loops of ``--loops``:

- ``multicore-cpu``: TASKS coroutines of about 100 µs of pure-Python work,
  all spawned unhinted from thread 0 (``aioloop.spawn`` inside
  ``aioloop.run(main(), threads=k)``), for k = 1 .. cpu_count + 1; beside
  k plain ``threading.Thread`` workers sharing the same work statically.  The
  figure is the speed-up over k = 1 of the same variant in the same process;
  the ratio is aioloop's speed-up over the plain threads' (the most a Python
  program can get from k threads of this interpreter: 1 with the GIL).
  ``multicore-cpu-coarse`` does the same with 8 tasks per CPU of ~25 ms each,
  where how evenly a burst spreads over the threads decides the speed-up.
- ``multicore-roundtrip``: ``await aioloop.spawn(noop(), hint=1)`` from
  thread 0 of a 2-thread scheduler, timed one by one; beside
  ``asyncio.wrap_future(asyncio.run_coroutine_threadsafe(noop(), other))``
  between two loops of stock asyncio (uvloop, rloop when installed) in two
  threads, and a C floor: two pthreads ping-ponging through an eventfd each,
  sleeping in epoll_wait (csrc/eventfd_pingpong.c).
- ``multicore-sched``: M plain threads calling ``s.sched(hit)`` as fast as
  they can into a 2-thread scheduler, until every callback ran; beside M
  threads calling ``loop.call_soon_threadsafe(hit)`` on one asyncio (uvloop,
  rloop) loop.
- ``multicore-tasklock``: two tasks pinned to dispatch threads 0 and 1 taking
  one ``TaskLock`` in turn (``async with lock``, holding it across an
  ``await asyncio.sleep(0)``, so the other is always queued: every
  acquisition is a cross-thread hand-off once both run; the figure is
  hand-offs per second, with the share of acquisitions that changed owner);
  beside ``asyncio.Lock`` between
  two tasks of one loop, the same way, and a ``threading.Lock`` taken by work
  that two asyncio loops in two threads re-post to themselves with
  ``call_soon_threadsafe``.
- ``multicore-barrier``: N tasks spread over 2 dispatch threads, each
  ``await barrier.arrive()`` on one threshold ``TaskBarrier(N)``, R trips;
  beside ``asyncio.Barrier(N)`` with N tasks on one loop and
  ``threading.Barrier(N)`` with N threads.

Each cell is one variant in a process of its own (``worker.py multicore``),
so rounds interleave the variants as they interleave loops elsewhere.  With
``--python NAME=PATH`` every variant but the C floor also runs under that
interpreter, as a row "VARIANT [NAME]" whose ratio is to "BASELINE [NAME]"
(configure(), probe_build()).  The CPU cells also time what a task costs
besides its work (spawn, collector, the rest): the inputs of scaling_model().  Every
result carries ``gil_enabled`` (``sys._is_gil_enabled()`` after the
variant's imports; 1 where that function does not exist): on a free-threaded
build a C extension that is not marked free-threading-safe turns the GIL
back on when it is imported, unless ``PYTHON_GIL=0``.
"""

import asyncio
import gc
import importlib.util
import json
import os
import sys
import threading
import time

from . import cbuild
from .model import CellError, LoopSpec, Workload
from .proc import foreign_env, run_json, worker_argv

# The generic table's figure for each workload, and what the ratio is to.
SPECS = {
    "cpu": {"primary": "speedup", "higher_is_better": True, "baseline": "threads",
            "columns": ("speedup", "seconds")},
    "roundtrip": {"primary": "p50_us", "higher_is_better": False, "baseline": "asyncio",
                  "columns": ("p50_us", "p99_us", "ops_per_s")},
    "sched": {"primary": "ops_per_s", "higher_is_better": True, "baseline": "asyncio",
              "columns": ("ops_per_s", "seconds")},
    "tasklock": {"primary": "handoffs_per_s", "higher_is_better": True, "baseline": "asyncio",
                 "columns": ("handoffs_per_s", "ops_per_s", "handoff_pct")},
    "barrier": {"primary": "ops_per_s", "higher_is_better": True, "baseline": "asyncio",
                "columns": ("ops_per_s", "seconds")},
    "echo": {"primary": "req_per_s", "higher_is_better": True, "baseline": "asyncio k=1",
             "columns": ("req_per_s", "cpu_us_per_req", "p50_us", "p99_us")},
}
# Module defaults for code that reads a suite's constants; spec() is per workload.
PRIMARY = "ops_per_s"
HIGHER_IS_BETTER = True
COLUMNS = ("ops_per_s",)

C_FLOOR = "c-eventfd"
OPTIONAL_LOOPS = {"uvloop": "uvloop:new_event_loop", "rloop": "rloop:new_event_loop"}

# What each variant is, for the report's legend.
VARIANTS = {
    "aioloop": "aioloop Scheduler",
    "threads": "plain threading.Thread workers, the work split evenly",
    "asyncio": "stock asyncio (one loop per thread where two threads take part)",
    "uvloop": "uvloop, one loop per thread",
    "rloop": "rloop, one loop per thread",
    C_FLOOR: "C: two pthreads, an eventfd and an epoll set each (the floor)",
    "aioloop-threadsafe": "aioloop Scheduler, loops[1].call_soon_threadsafe: its inbox without s.sched",
    "threading.Lock": "threading.Lock, work re-posted with call_soon_threadsafe on 2 asyncio loops",
    "threading.Barrier": "threading.Barrier, one plain thread per party",
    "asyncio k=1": "echo server: stock asyncio, one loop",
    "asyncio k=2": "echo server: stock asyncio, a loop per thread, SO_REUSEPORT",
    "aioloop k=1": "echo server: aioloop.run(main(), threads=1), a plain Loop",
    "aioloop k=2": "echo server: Scheduler(threads=2).create_server, a listener per dispatch thread",
    "uvloop k=1": "echo server: uvloop, one loop",
    "uvloop k=2": "echo server: uvloop, a loop per thread, SO_REUSEPORT",
}
ECHO_KS = (1, 2)

TITLES = {
    "cpu": "CPU-bound scaling: {tasks} tasks of ~100 µs, speed-up at k={kmain} threads",
    "cpu-coarse": "CPU-bound scaling, coarse: {tasks} tasks of ~{work_ms:g} ms, speed-up at k={kmain} threads",
    "roundtrip": "cross-thread round trip, thread 0 -> 1 -> 0, {n} timed",
    "sched": "cross-thread sched: {producers} threads submit {total} callbacks",
    "tasklock": "contended lock between 2 threads, {n} acquisitions each: hand-offs/s",
    "barrier": "barrier trips: {parties} parties x {rounds} trips",
    "echo": "sharded echo, 1 KiB and ~{work_us} µs of Python per request, {connections} connections",
}

FULL = {
    "cpu": {"tasks": 10_000},
    "roundtrip": {"n": 20_000},
    "sched": {"total": 400_000, "producers": 2},
    "tasklock": {"n": 20_000},
    "barrier": {"parties": 4, "rounds": 5_000},
    "echo": {"connections": 20, "size": 1024, "work_us": 20},
}
QUICK = {
    "cpu": {"tasks": 1_000},
    "roundtrip": {"n": 2_000},
    "sched": {"total": 50_000, "producers": 2},
    "tasklock": {"n": 2_000},
    "barrier": {"parties": 4, "rounds": 500},
}  # no sharded echo in --quick: its cells take seconds each


def thread_counts(cpus=None, max_threads=None):
    """k = 1 .. cpu_count, and one more to show what oversubscription does; with
    `max_threads` beyond that, doubling from there up to max_threads (2 CPUs, 16:
    1 2 3 4 8 16), to show what many more threads than CPUs do."""
    cpus = cpus or os.cpu_count() or 1
    ks = list(range(1, cpus + 2))
    if max_threads is not None:
        k = 1 << ks[-1].bit_length()        # the next power of two above cpus + 1
        while k < max_threads:
            ks.append(k)
            k *= 2
        if max_threads > ks[-1]:
            ks.append(max_threads)
    return ks


def main_k(cpus=None):
    """The k the generic table's speed-up is read at: every CPU busy."""
    return max(1, cpus or os.cpu_count() or 1)


def _have(module):
    return importlib.util.find_spec(module) is not None


def variant_names(bench):
    """The variants of one workload on this machine, baseline first."""
    loops = [n for n in OPTIONAL_LOOPS if _have(n)]
    if bench == "cpu":
        return ["threads", "aioloop"]
    if bench == "roundtrip":
        return ["asyncio", "aioloop", *loops, *([C_FLOOR] if cbuild.find_compiler() else [])]
    if bench == "sched":
        return ["asyncio", "aioloop", "aioloop-threadsafe", *loops]
    if bench == "tasklock":
        return ["asyncio", "aioloop", "threading.Lock"]
    if bench == "barrier":
        return ["asyncio", "aioloop", "threading.Barrier"]
    if bench == "echo":
        return [f"{name} k={k}" for name in ("asyncio", "aioloop", *loops[:1]) for k in ECHO_KS]
    raise ValueError(bench)


def workloads(quick=False):
    """The multicore workloads in table order (smaller sizes when quick)."""
    sizes = QUICK if quick else FULL
    out = []
    for bench in SPECS:
        if bench not in sizes:
            continue
        params = dict(sizes[bench], bench=bench, variants=variant_names(bench))
        if bench == "cpu":
            params.update(ks=thread_counts(), kmain=main_k())
        out.append(Workload(id=f"multicore-{bench}", suite="multicore",
                            title=TITLES[bench].format(**params), params=params))
        if bench == "cpu":
            # Few long tasks: how evenly does a burst spread when each task is worth
            # stealing? (Stealing takes only work that has not started.)
            coarse = dict(params, tasks=8 * main_k(), work_us=(10_000 if quick else 25_000))
            out.append(Workload(id="multicore-cpu-coarse", suite="multicore",
                                title=TITLES["cpu-coarse"].format(work_ms=coarse["work_us"] / 1000, **coarse),
                                params=coarse))
    return out


def configure(workloads, *, max_threads=None, builds=None):
    """The workloads with the run's options applied to the multicore ones:
    `max_threads` adds thread counts to the CPU workloads (thread_counts()), and
    `builds` ({name: {"python": PATH, "env": {...}, "have": [module, ...],
    "rate": iterations/s of work()}}, from ``--python NAME=PATH``) adds every
    variant but the C floor once more per build, named "VARIANT [NAME]", whose
    cells run under that interpreter.  Other workloads pass through unchanged."""
    out = []
    for w in workloads:
        if w.suite != "multicore":
            out.append(w)
            continue
        params = dict(w.params)
        if max_threads is not None and "ks" in params:
            params["ks"] = thread_counts(max_threads=max_threads)
        if builds:
            params["builds"] = builds
            own = params["variants"]
            for name, b in builds.items():
                params["variants"] = params["variants"] + [
                    tagged(v, name) for v in own
                    if v != C_FLOOR and (v.partition(" ")[0] not in OPTIONAL_LOOPS
                                         or v.partition(" ")[0] in b.get("have", ()))]
        out.append(Workload(id=w.id, suite=w.suite, title=w.title, params=params, native=w.native))
    return out


_PROBE_BUILD = "import sysconfig; print(int(bool(sysconfig.get_config_var('Py_GIL_DISABLED'))))"
_PROBE = """
import importlib.util, json, platform
import aioloop
from aioloop.bench import multicore, worker
multicore.calibrate()
print(json.dumps({
    "python": f"{platform.python_implementation()} {platform.python_version()}",
    "gil_enabled": multicore.gil_enabled(),
    "aioloop": aioloop.__file__,
    "have": [m for m in multicore.OPTIONAL_LOOPS if importlib.util.find_spec(m)],
    "rate": multicore._rate}))
"""


def probe_build(python):
    """What the multicore cells of interpreter `python` need to know of it, or
    ValueError saying why it cannot run them: {"python": PATH, "version":
    "CPython 3.13.1", "python_build": "free-threaded" or "default", "env": the
    variables its workers get (PYTHON_GIL=0 on a free-threaded build: no import
    may turn the GIL back on), "gil": "on" or "off" in a worker, "have": the
    optional peer loops it has, "rate": iterations of work() per second}.
    It must import aioloop from the tree this bench runs from (proc.foreign_env()
    puts that first on its PYTHONPATH), built for it (an extension module per
    version in that tree)."""
    import subprocess
    from .proc import aioloop_root

    def run(code, env):
        try:
            p = subprocess.run([python, "-c", code], capture_output=True, text=True,
                               timeout=120, env=env)
        except (OSError, subprocess.SubprocessError) as e:
            raise ValueError(f"cannot run {python}: {e}") from None
        if p.returncode != 0:
            tail = " | ".join(p.stderr.strip().splitlines()[-2:])
            raise ValueError(f"{python} failed: {tail}")
        return p.stdout.strip().splitlines()[-1]

    free = run(_PROBE_BUILD, foreign_env()) == "1"
    extra = {"PYTHON_GIL": "0"} if free else {}
    try:
        info = json.loads(run(_PROBE, foreign_env(extra)))
        if not isinstance(info, dict) or not {"python", "aioloop", "rate"} <= set(info):
            raise ValueError(f"{python} did not answer the probe: {str(info)[:100]!r}")
    except ValueError as e:
        raise ValueError(f"{e} (it must import aioloop from {aioloop_root()}, built for it)") from None
    mine = os.path.join(aioloop_root(), "aioloop")
    if os.path.realpath(os.path.dirname(info["aioloop"])) != os.path.realpath(mine):
        raise ValueError(f"{python} imports aioloop from {os.path.dirname(info['aioloop'])}, "
                         f"not from {mine}, the tree this bench runs")
    return {"python": python, "version": info["python"],
            "python_build": "free-threaded" if free else "default", "env": extra,
            "gil": "on" if info["gil_enabled"] else "off", "have": info["have"], "rate": info["rate"]}


def tagged(variant, build):
    """The row name of `variant` run under build `build` (None: the bench's own)."""
    return f"{variant} [{build}]" if build else variant


def split_variant(name):
    """("aioloop", "3.13t") for "aioloop [3.13t]"; ("aioloop", None) for "aioloop"."""
    if name.endswith("]") and " [" in name:
        variant, _, build = name[:-1].rpartition(" [")
        return variant, build
    return name, None


def spec(workload):
    """primary metric, its direction, the baseline variant and the columns of a workload."""
    return SPECS[workload.params["bench"]]


def baseline_for(workload, name):
    """The row a row's ratio is taken to: the workload's baseline run by the same build."""
    return tagged(spec(workload)["baseline"], split_variant(name)[1])


def variants(workload, loop_specs):
    """The rows of a workload: its variants, as LoopSpecs named after them.  uvloop's
    rows follow --loops (it is there by default when installed); rloop, not a loop of
    the other suites, has rows whenever it is installed."""
    chosen = {lp.name for lp in loop_specs}
    return [LoopSpec(name, f"multicore:{name}") for name in workload.params["variants"]
            if name.partition(" ")[0] != "uvloop" or "uvloop" in chosen]


def estimate_seconds(workload, settings=None):
    bench = workload.params["bench"]
    if bench == "echo":
        return 1.0 + (settings.warmup + settings.duration if settings else 2.5)
    return 2.0 if bench != "cpu" else 1.5 + 0.5 * len(workload.params["ks"])


# --- the work ------------------------------------------------------------------------------------

def work(iters):
    """Pure-Python work: no allocation in the loop, no shared object touched."""
    x = 0
    for i in range(iters):
        x += i * i
    return x


_rate = None  # iterations of work() per second on one thread, measured once per bench run


def calibrate(target_s=100e-6):
    """Iterations of work() that take about target_s on one thread of this interpreter
    (from the fastest of a few tries, measured once per bench run in the bench process)."""
    global _rate
    if _rate is None:
        probe = 2000
        _rate = probe / min(_time_once(probe) for _ in range(20))
    return max(10, int(_rate * target_s))


def _time_once(iters):
    t0 = time.perf_counter()
    work(iters)
    return time.perf_counter() - t0


async def noop():
    return None


def _percentiles(lat_ns):
    lat_ns.sort()
    n = len(lat_ns)
    return lat_ns[n // 2] / 1e3, lat_ns[(n * 99) // 100] / 1e3


# --- CPU-bound scaling ---------------------------------------------------------------------------

class _GCTimer:
    """Wall time spent in the cyclic garbage collector while installed (gc.callbacks
    calls it at the start and the stop of every collection).  On a free-threaded
    build a collection stops every thread, so this time is serial whatever k is."""

    def __init__(self):
        self.seconds, self.runs, self._t0 = 0.0, 0, None

    def __call__(self, phase, info):
        if phase == "start":
            self._t0 = time.perf_counter()
        elif self._t0 is not None:
            self.seconds += time.perf_counter() - self._t0
            self.runs += 1
            self._t0 = None

    def __enter__(self):
        gc.callbacks.append(self)
        return self

    def __exit__(self, *exc):
        gc.callbacks.remove(self)


def cpu_aioloop(tasks, iters, ks):
    """{k: {"seconds", "spawn_s", "gc_s", "gc_runs", "stolen"}}: the whole run; the
    spawning burst on thread 0 without the collections inside it; the collections
    of the whole run; tasks moved by steals.  Key 0: the same for TASKS tasks
    that do no work, on a one-thread Scheduler: what a task costs besides its work."""
    import aioloop

    def job_of(n):
        async def job():
            return work(n)
        return job

    async def main(count, job):
        spawn = aioloop.spawn
        with _GCTimer() as gct:
            t0 = time.perf_counter()
            spawned = [spawn(job()) for _ in range(count)]
            t1 = time.perf_counter()
            gc_spawn = gct.seconds
            for sp in spawned:
                await sp
            t2 = time.perf_counter()
        s = aioloop.current_scheduler()
        return {"seconds": t2 - t0, "spawn_s": (t1 - t0) - gc_spawn, "gc_s": gct.seconds,
                "gc_runs": gct.runs, "stolen": s.stats()["total"]["stolen"] if s else 0}

    job = job_of(iters)
    aioloop.run(main(max(1, tasks // 10), job), threads=max(ks))  # warm-up
    out = {k: aioloop.run(main(tasks, job), threads=k) for k in ks}
    # A one-thread Scheduler, not the plain Loop that aioloop.run(threads=1) makes:
    # the Scheduler's own submission path, with no sibling to contend with.
    with aioloop.Scheduler(threads=1) as one:
        out[0] = one.run(main(tasks, job_of(0)))
    return out


def cpu_threads(tasks, iters, ks):
    def worker(count):
        for _ in range(count):
            work(iters)

    def once(k, count):
        shares = [count // k + (i < count % k) for i in range(k)]
        threads = [threading.Thread(target=worker, args=(m,)) for m in shares]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        return time.perf_counter() - t0

    once(max(ks), max(1, tasks // 10))  # warm-up
    out = {}
    for k in ks:
        with _GCTimer() as gct:
            seconds = once(k, tasks)
        out[k] = {"seconds": seconds, "gc_s": gct.seconds, "gc_runs": gct.runs}
    return out


def bench_cpu(variant, tasks, iters, ks, kmain, work_us=100, **_):
    fn = {"aioloop": cpu_aioloop, "threads": cpu_threads}[variant]
    runs = fn(tasks, iters, ks)
    base = runs[1]["seconds"]
    out = {"seconds": base, "iters": iters}
    for k in ks:
        r = runs[k]
        out[f"seconds_k{k}"] = r["seconds"]
        out[f"speedup_k{k}"] = base / r["seconds"]
        # per task, in µs: the inputs of scaling_model()
        out[f"gc_us_k{k}"] = r["gc_s"] / tasks * 1e6
        out[f"gc_runs_k{k}"] = r["gc_runs"]
        if "spawn_s" in r:
            out[f"spawn_us_k{k}"] = r["spawn_s"] / tasks * 1e6
            out[f"stolen_k{k}"] = r["stolen"]
    if 0 in runs:
        noop = runs[0]
        out["noop_us"] = noop["seconds"] / tasks * 1e6
        out["noop_spawn_us"] = noop["spawn_s"] / tasks * 1e6
        out["noop_gc_us"] = noop["gc_s"] / tasks * 1e6
    out["speedup"] = out[f"speedup_k{kmain}"]
    return out


# --- what limits the speed-up: a model from the measured per-task costs ---------------------------

MODEL_KS = (16,)
MODEL_WORK_US = (100, 10, 1000)


def model_inputs(metrics):
    """The per-task costs (µs) scaling_model() takes, from the aioloop row of the CPU
    workload (medians over rounds: a dict metric -> {"median", ...}), or None:
      spawn: thread 0's time per unhinted spawn on a one-thread Scheduler, the
             collections in it excluded (all spawning is on thread 0: serial);
      gc:    the collector's time per task in the timed k=1 run (on a free-threaded
             build each collection stops every thread: serial);
      other: the rest of a task's cost besides its work (take, Task, first step,
             completion, the awaiter's side), from tasks that do no work on that
             one-thread Scheduler: counted as running on whichever thread runs the
             task (parallel), though the awaiter's share of it (a done check when
             the task finished first) stays on thread 0."""
    need = ("noop_us", "noop_spawn_us", "noop_gc_us", "gc_us_k1")
    if not metrics or any(m not in metrics for m in need):
        return None
    med = {m: metrics[m]["median"] for m in need}
    spawn = med["noop_spawn_us"]
    return {"spawn": spawn, "gc": med["gc_us_k1"],
            "other": max(0.0, med["noop_us"] - spawn - med["noop_gc_us"])}


def scaling_model(work_us, inputs, k):
    """Predicted speed-up over k=1 of N tasks of `work_us` spawned unhinted from
    thread 0 and awaited there, on k threads with a CPU each.  Per task: the
    collector (gc) is serial; the spawn is serial on thread 0, which cannot hand
    out more than one task per `spawn`; work + other + spawn spread over k threads:
        t(k)/N = gc + max((work + other + spawn) / k, spawn)
    Stealing costs no term of its own: a steal moves up to half of a queue (1024
    handles at most) under one lock, so its cost per task is inside `other`."""
    par = work_us + inputs["other"] + inputs["spawn"]
    return (par + inputs["gc"]) / (inputs["gc"] + max(par / k, inputs["spawn"]))


# --- cross-thread round trip ---------------------------------------------------------------------

def roundtrip_aioloop(n):
    import aioloop

    async def main():
        spawn = aioloop.spawn
        clock = time.perf_counter_ns
        for _ in range(max(1, n // 10)):
            await spawn(noop(), hint=1)
        lat = []
        t0 = time.perf_counter()
        for _ in range(n):
            s = clock()
            await spawn(noop(), hint=1)
            lat.append(clock() - s)
        return time.perf_counter() - t0, lat

    return aioloop.run(main(), threads=2)


class _LoopThread:
    """A loop made by `factory`, running forever in a thread of its own until stop()."""

    def __init__(self, factory):
        self.loop = factory()
        ready = threading.Event()

        def run():
            asyncio.set_event_loop(self.loop)
            self.loop.call_soon(ready.set)
            self.loop.run_forever()

        self.thread = threading.Thread(target=run, name="bench-loop", daemon=True)
        self.thread.start()
        if not ready.wait(30):
            raise RuntimeError("the second loop did not start within 30 s")

    def stop(self):
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(30)
        if not self.thread.is_alive():
            self.loop.close()


def _on_own_loop(factory, coro_fn):
    """Run coro_fn() to completion on a new loop from `factory` in this thread."""
    loop = factory()
    try:
        asyncio.set_event_loop(loop)
        return loop.run_until_complete(coro_fn(loop))
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def roundtrip_loops(factory, n):
    other = _LoopThread(factory)

    async def main(loop):
        target = other.loop
        rcts, wrap = asyncio.run_coroutine_threadsafe, asyncio.wrap_future
        clock = time.perf_counter_ns
        for _ in range(max(1, n // 10)):
            await wrap(rcts(noop(), target))
        lat = []
        t0 = time.perf_counter()
        for _ in range(n):
            s = clock()
            await wrap(rcts(noop(), target))
            lat.append(clock() - s)
        return time.perf_counter() - t0, lat

    try:
        return _on_own_loop(factory, main)
    finally:
        other.stop()


def bench_roundtrip(variant, n, pingpong=None, **_):
    if variant == C_FLOOR:
        import subprocess
        if not pingpong:
            raise RuntimeError("the C ping-pong is not built")
        proc = subprocess.run([pingpong, str(n), str(max(1, n // 10))], capture_output=True,
                              text=True, timeout=120)
        import json
        r = json.loads(proc.stdout.strip().splitlines()[-1])
        if "error" in r:
            raise RuntimeError(r["error"])
        return {"p50_us": r["p50_us"], "p99_us": r["p99_us"], "ops_per_s": n / r["seconds"],
                "seconds": r["seconds"]}
    if variant == "aioloop":
        seconds, lat = roundtrip_aioloop(n)
    else:
        seconds, lat = roundtrip_loops(_factory(variant), n)
    p50, p99 = _percentiles(lat)
    return {"p50_us": p50, "p99_us": p99, "ops_per_s": n / seconds, "seconds": seconds}


def _factory(variant):
    from .loops import load_factory
    return load_factory({"asyncio": "asyncio:new_event_loop", **OPTIONAL_LOOPS}[variant])


# --- cross-thread sched throughput ---------------------------------------------------------------

class _Counter:
    """Callbacks counted per running thread, so that no counter is shared between threads."""

    def __init__(self):
        self.cells = []
        self.local = threading.local()
        local, cells = self.local, self.cells

        def hit():
            try:
                local.cell[0] += 1
            except AttributeError:
                local.cell = [1]
                cells.append(local.cell)

        self.hit = hit

    def total(self):
        return sum(c[0] for c in list(self.cells))


async def _flood(submit, counter, total, producers, timeout=60.0):
    """Start `producers` threads calling submit(counter.hit) total/producers times each;
    return the seconds until every callback ran."""
    hit = counter.hit

    def produce(m):
        for _ in range(m):
            submit(hit)

    shares = [total // producers + (i < total % producers) for i in range(producers)]
    threads = [threading.Thread(target=produce, args=(m,)) for m in shares]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    deadline = t0 + timeout
    while counter.total() < total:
        if time.perf_counter() > deadline:
            raise RuntimeError(f"{counter.total()} of {total} callbacks ran within {timeout:g} s")
        await asyncio.sleep(0.0005)
    dt = time.perf_counter() - t0
    for t in threads:
        t.join()
    return dt


def bench_sched(variant, total, producers, **_):
    counter = _Counter()
    warm = max(1, total // 10)
    if variant == "aioloop":
        import aioloop

        async def main():
            s = aioloop.current_scheduler()
            await _flood(s.sched, _Counter(), warm, producers)
            return await _flood(s.sched, counter, total, producers)

        seconds = aioloop.run(main(), threads=2)
    elif variant == "aioloop-threadsafe":
        # The same scheduler, its inbox reached directly: what s.sched adds on top of it.
        import aioloop

        async def main():
            post = aioloop.current_scheduler().loops[1].call_soon_threadsafe
            await _flood(post, _Counter(), warm, producers)
            return await _flood(post, counter, total, producers)

        seconds = aioloop.run(main(), threads=2)
    else:
        async def main(loop):
            await _flood(loop.call_soon_threadsafe, _Counter(), warm, producers)
            return await _flood(loop.call_soon_threadsafe, counter, total, producers)

        seconds = _on_own_loop(_factory(variant), main)
    return {"ops_per_s": total / seconds, "seconds": seconds}


# --- contended lock ------------------------------------------------------------------------------

async def _locker(lock, n, me, state, start=None):
    # state: [owner of the last acquisition, hand-offs, acquisitions]
    sleep = asyncio.sleep
    if start is not None:
        await start.arrive()
    for _ in range(n):
        async with lock:
            if state[0] != me:
                state[0] = me
                state[1] += 1
            state[2] += 1
            await sleep(0)


def bench_tasklock(variant, n, **_):
    state = [None, 0, 0]
    if variant == "aioloop":
        import aioloop

        async def main():
            lock = aioloop.TaskLock()
            start = aioloop.TaskBarrier(2)  # both take part from the first acquisition
            t0 = time.perf_counter()
            a = aioloop.spawn(_locker(lock, n, 0, state, start), hint=0)
            b = aioloop.spawn(_locker(lock, n, 1, state, start), hint=1)
            await a
            await b
            return time.perf_counter() - t0

        seconds = aioloop.run(main(), threads=2)
    elif variant == "asyncio":
        async def main(loop):
            lock = asyncio.Lock()
            t0 = time.perf_counter()
            await asyncio.gather(_locker(lock, n, 0, state), _locker(lock, n, 1, state))
            return time.perf_counter() - t0

        seconds = _on_own_loop(asyncio.new_event_loop, main)
    elif variant == "threading.Lock":
        seconds = _threading_lock(n, state)
    else:
        raise ValueError(variant)
    if state[2] != 2 * n:
        raise RuntimeError(f"{state[2]} acquisitions counted, {2 * n} expected")
    return {"handoffs_per_s": state[1] / seconds, "ops_per_s": state[2] / seconds,
            "handoff_pct": 100.0 * state[1] / state[2], "seconds": seconds}


def _threading_lock(n, state):
    """Two asyncio loops in two threads; each runs work that takes a threading.Lock and
    re-posts itself with call_soon_threadsafe until it has run n times."""
    tlock = threading.Lock()
    sides = [_LoopThread(asyncio.new_event_loop) for _ in range(2)]
    done = threading.Semaphore(0)
    try:
        def make(loop, me):
            left = [n]

            def step():
                with tlock:
                    if state[0] != me:
                        state[0] = me
                        state[1] += 1
                    state[2] += 1
                left[0] -= 1
                if left[0]:
                    loop.call_soon_threadsafe(step)
                else:
                    done.release()
            return step

        steps = [make(side.loop, i) for i, side in enumerate(sides)]
        t0 = time.perf_counter()
        for side, step in zip(sides, steps):
            side.loop.call_soon_threadsafe(step)
        for _ in sides:
            if not done.acquire(timeout=120):
                raise RuntimeError("threading.Lock workers did not finish within 120 s")
        return time.perf_counter() - t0
    finally:
        for side in sides:
            side.stop()


# --- barrier -------------------------------------------------------------------------------------

def bench_barrier(variant, parties, rounds, **_):
    if variant == "aioloop":
        import aioloop

        def tripped():
            pass

        async def party(b):
            for _ in range(rounds):
                await b.arrive()

        async def main():
            b = aioloop.TaskBarrier(parties, tripped, total=aioloop.TaskBarrier.INFTY)
            t0 = time.perf_counter()
            ps = [aioloop.spawn(party(b), hint=i % 2) for i in range(parties)]
            for p in ps:
                await p
            return time.perf_counter() - t0, b.trips

        seconds, trips = aioloop.run(main(), threads=2)
    elif variant == "asyncio":
        async def party(b):
            for _ in range(rounds):
                await b.wait()

        async def main(loop):
            b = asyncio.Barrier(parties)
            t0 = time.perf_counter()
            await asyncio.gather(*(party(b) for _ in range(parties)))
            return time.perf_counter() - t0, rounds

        seconds, trips = _on_own_loop(asyncio.new_event_loop, main)
    elif variant == "threading.Barrier":
        b = threading.Barrier(parties)

        def party():
            for _ in range(rounds):
                b.wait(timeout=60)

        threads = [threading.Thread(target=party) for _ in range(parties)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds, trips = time.perf_counter() - t0, rounds
    else:
        raise ValueError(variant)
    if trips != rounds:
        raise RuntimeError(f"{trips} trips, {rounds} expected")
    return {"ops_per_s": trips / seconds, "seconds": seconds}


# --- sharded echo ----------------------------------------------------------------------------------

HOST = "127.0.0.1"


class _EchoWork(asyncio.Protocol):
    """Echo every chunk after `iters` iterations of work(): a CPU-heavy handler."""

    iters = 0

    def connection_made(self, transport):
        self.transport = transport
        from .worker import set_nodelay
        set_nodelay(transport.get_extra_info("socket"))

    def data_received(self, data):
        if self.iters:
            work(self.iters)
        self.transport.write(data)


def serve_echo(variant, iters, **_):
    """Worker side: serve echo on 127.0.0.1 under `variant` ("NAME k=K"), print
    {"ready": PORT, "pid": PID}, then serve until killed."""
    from .worker import emit
    name, _, k = variant.partition(" k=")
    k = int(k)
    _EchoWork.iters = iters
    if name == "aioloop":
        import aioloop

        async def main():
            s = aioloop.current_scheduler()
            if s is not None:
                srv = await s.create_server(_EchoWork, HOST, 0, backlog=1024)
            else:
                srv = await asyncio.get_running_loop().create_server(_EchoWork, HOST, 0, backlog=1024)
            emit({"ready": srv.sockets[0].getsockname()[1], "pid": os.getpid(),
                  "gil_enabled": gil_enabled()})
            await asyncio.Event().wait()

        aioloop.run(main(), threads=k)
        return
    factory = _factory(name)
    port = 0
    for i in range(k):
        started, box = threading.Event(), {}

        def run(port=port, started=started, box=box):
            loop = factory()
            asyncio.set_event_loop(loop)
            try:
                srv = loop.run_until_complete(loop.create_server(
                    _EchoWork, HOST, port, backlog=1024, reuse_port=True))
                box["port"] = srv.sockets[0].getsockname()[1]
            except Exception as e:
                box["error"] = e
            started.set()
            if "port" in box:
                loop.run_forever()

        threading.Thread(target=run, daemon=True, name=f"echo-{i}").start()
        if not started.wait(30) or "error" in box:
            raise RuntimeError(f"loop {i} did not start: {box.get('error')!r}")
        port = box["port"]
    emit({"ready": port, "pid": os.getpid(), "gil_enabled": gil_enabled()})
    threading.Event().wait()


def _build_of(workload, name):
    """(variant, python, env, iters of work() per second) for row `name`: its
    build's interpreter, or (variant, None, None, None) for the bench's own."""
    variant, build = split_variant(name)
    if build is None:
        return variant, None, None, None
    b = workload.params.get("builds", {}).get(build)
    if b is None:
        raise CellError(f"no interpreter given for build {build!r} (--python {build}=PATH)", fatal=True)
    return variant, b["python"], foreign_env(b.get("env")), b["rate"]


def _iters(rate, target_s):
    """calibrate() for the bench's interpreter, or from another build's measured rate."""
    return calibrate(target_s) if rate is None else max(10, int(rate * target_s))


def measure_echo(workload, loop, settings):
    """Driver side: the server in a child, the echo load client against it (neither
    pinned: the server's threads need every CPU)."""
    from .echo import client_argv, client_metrics
    from .proc import Child
    variant, python, env, rate = _build_of(workload, loop.name)
    params = dict(workload.params, iters=_iters(rate, workload.params["work_us"] * 1e-6))
    params.pop("builds", None)
    argv = worker_argv("multicore", python=python, variant=variant, params=params, serve=True)
    with Child(argv, what="server", env=env) as server:
        ready = server.read_json(settings.start_timeout)
        client_settings = type(settings)(**{**vars(settings), "connections": params["connections"]})
        try:
            result = run_json(client_argv(client_settings, ready["ready"], params["size"], ready["pid"]),
                              timeout=settings.warmup + settings.duration + 30, what="load client")
        except CellError as e:
            tail = server.stderr_tail()
            raise CellError(f"{e}" + (f" [server: {tail}]" if tail else "")) from None
        server.check_alive()
    metrics = client_metrics(result)
    metrics["gil_enabled"] = ready.get("gil_enabled", 1)
    return metrics


BENCHES = {"cpu": bench_cpu, "roundtrip": bench_roundtrip, "sched": bench_sched,
           "tasklock": bench_tasklock, "barrier": bench_barrier}


def gil_enabled():
    fn = getattr(sys, "_is_gil_enabled", None)
    return 1 if fn is None or fn() else 0


def run_in_worker(spec):
    """Worker side: one variant of one workload; returns its metrics (a server
    variant serves instead, until killed, and returns None)."""
    params = dict(spec["params"])
    bench = params.pop("bench")
    params.pop("variants", None)
    params.pop("builds", None)
    variant = spec["variant"]
    if spec.get("serve"):
        serve_echo(variant, **params)
        return None
    if variant in OPTIONAL_LOOPS or variant == "asyncio":
        _factory(variant)  # import the peer first: its import may turn the GIL back on
    if variant == "aioloop":
        import aioloop  # noqa: F401
    metrics = BENCHES[bench](variant, **params)
    metrics["gil_enabled"] = gil_enabled()
    return metrics


# --- driver side ---------------------------------------------------------------------------------

def measure(workload, loop, settings):
    """Run one cell (one variant of one workload) in a worker process."""
    params = dict(workload.params)
    if params["bench"] == "echo":
        return measure_echo(workload, loop, settings)
    variant, python, env, rate = _build_of(workload, loop.name)
    params.pop("builds", None)
    if params["bench"] == "cpu":
        # ~work_us on one thread of the interpreter that runs the cell
        params["iters"] = _iters(rate, params.get("work_us", 100) * 1e-6)
    if variant == C_FLOOR:
        if not settings.pingpong:
            raise CellError("the C ping-pong cannot be built here", fatal=True)
        params["pingpong"] = settings.pingpong
    result = run_json(worker_argv("multicore", python=python, variant=variant, params=params),
                      timeout=settings.micro_timeout, what="benchmark", env=env)
    return result
