"""The benchmark suite: its arithmetic on made-up records, and whole runs in
--quick mode.  These assert the report's shape and honesty (every loop and
workload present, ratios with spreads, failures shown as failures), never a
speed."""

import importlib.util
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path


import pytest

from aioloop.bench import cbuild, echo, http, loops, micro, multicore, report
from aioloop.bench.model import CellError, LoopSpec, Settings, Workload
from aioloop.bench.runner import Plan, Record

TESTS = Path(__file__).parent
ASYNCIO = LoopSpec("asyncio", "asyncio:new_event_loop")
FAST = LoopSpec("fast", "x:y")
C_REF = LoopSpec("c-epoll", None)
W_ECHO = Workload("echo-protocol-1k", "echo", "protocol echo 1 KiB", {"kind": "protocol", "size": 1024}, native=True)
W_MICRO = Workload("micro-sleep0", "micro", "sleep(0) 100k", {"name": "sleep0", "ops": 100_000})


def plan(*loop_specs, workloads=(W_ECHO, W_MICRO), rounds=3, skipped=None):
    return Plan(list(workloads), list(loop_specs), rounds, Settings(), skipped or {})


META = {"date": "2025-01-01 00:00 UTC", "python": "CPython 3.x", "platform": "Linux", "cpus": 2,
        "cpu_model": "test", "loops": {}, "notes": [], "method": [], "rounds": 3, "quick": False}


def test_loop_order_rotates_each_round_and_c_reference_serves_only_network_workloads():
    p = plan(ASYNCIO, FAST, C_REF)
    assert [(w.id, lp.name) for w, lp in p.cells(0)] == [
        ("echo-protocol-1k", "asyncio"), ("echo-protocol-1k", "fast"), ("echo-protocol-1k", "c-epoll"),
        ("micro-sleep0", "asyncio"), ("micro-sleep0", "fast")]
    assert [lp.name for w, lp in p.cells(1) if w is W_ECHO] == ["fast", "c-epoll", "asyncio"]
    assert [lp.name for w, lp in p.cells(1) if w is W_MICRO] == ["fast", "asyncio"]
    assert p.total_cells() == 15
    assert plan(ASYNCIO, FAST, skipped={"echo": "no"}).total_cells() == 6


def test_ratio_is_median_of_per_round_ratios_with_min_and_max():
    recs = []
    for r, (base_cpu, fast_cpu, base_ops, fast_ops) in enumerate(
            [(20.0, 5.0, 100.0, 300.0), (22.0, 5.5, 100.0, 450.0), (18.0, 6.0, 200.0, 400.0)]):
        recs.append(Record(r, W_ECHO.id, "asyncio", {"cpu_us_per_req": base_cpu, "req_per_s": 1.0,
                                                    "p50_us": 1.0, "p99_us": 2.0}))
        recs.append(Record(r, W_ECHO.id, "fast", {"cpu_us_per_req": fast_cpu, "req_per_s": 1.0,
                                                 "p50_us": 1.0, "p99_us": 2.0}))
        recs.append(Record(r, W_MICRO.id, "asyncio", {"ops_per_s": base_ops, "seconds": 1.0}))
        recs.append(Record(r, W_MICRO.id, "fast", {"ops_per_s": fast_ops, "seconds": 1.0}))
    rep = report.build(plan(ASYNCIO, FAST), recs, META)
    echo_cell = rep["workloads"][0]["cells"]["fast"]
    # lower is better: asyncio / fast per round = 4.0, 4.0, 3.0
    assert echo_cell["ratio"] == {"median": 4.0, "min": 3.0, "max": 4.0, "n": 3}
    assert echo_cell["metrics"]["cpu_us_per_req"] == {"median": 5.5, "min": 5.0, "max": 6.0, "n": 3}
    # higher is better: fast / asyncio per round = 3.0, 4.5, 2.0
    assert rep["workloads"][1]["cells"]["fast"]["ratio"] == {"median": 3.0, "min": 2.0, "max": 4.5, "n": 3}
    assert rep["workloads"][1]["cells"]["asyncio"]["ratio"]["median"] == 1.0
    text = report.render(rep)
    assert "4.00 [3.00–4.00]" in text and "3.00 [2.00–4.50]" in text
    assert "5.50 ±9%" in text  # CPU µs/req: median 5.5, farthest round 6.0 is +9 %
    md = report.markdown(rep, "python -m aioloop bench")
    assert "| protocol echo 1 KiB, CPU µs/req (× asyncio) | 20.0 ±10% (1) | 5.50 ±9% (4.00 [3.00–4.00]) |  |" in md
    assert "| sleep(0) 100k, × asyncio | 1 | 3.00 [2.00–4.50] |  |" in md


def test_markdown_judges_aioloop_against_its_targets():
    recs = []
    for r, (cpu, ops) in enumerate([(4.0, 460.0), (6.0, 440.0), (4.5, 470.0)]):
        recs += [Record(r, W_ECHO.id, "asyncio", {"cpu_us_per_req": 20.0, "req_per_s": 1.0,
                                                   "p50_us": 1.0, "p99_us": 2.0}),
                 Record(r, W_ECHO.id, "aioloop", {"cpu_us_per_req": cpu, "req_per_s": 1.0,
                                                   "p50_us": 1.0, "p99_us": 2.0}),
                 Record(r, W_MICRO.id, "asyncio", {"ops_per_s": 100.0, "seconds": 1.0}),
                 Record(r, W_MICRO.id, "aioloop", {"ops_per_s": ops, "seconds": 1.0})]
    aioloop = LoopSpec("aioloop", "aioloop:new_event_loop")
    rep = report.build(plan(ASYNCIO, aioloop), recs, META)
    md = report.markdown(rep, "python -m aioloop bench")
    assert "| workload | asyncio | aioloop | target (aioloop) |" in md
    # median CPU 4.5 µs <= 5.0; median ratio 4.6 >= 4.5
    assert md.count(": met |") == 2 and "not met" not in md
    assert "| ≤ 5 µs: met |" in md and "| ≥ 4.5×: met |" in md
    recs = [r if r.loop != "aioloop" or r.workload != W_MICRO.id else
            Record(r.round, r.workload, r.loop, {"ops_per_s": 400.0, "seconds": 1.0}) for r in recs]
    md = report.markdown(report.build(plan(ASYNCIO, aioloop), recs, META), "python -m aioloop bench")
    assert "| ≥ 4.5×: not met |" in md


def test_markdown_rewrite_keeps_the_callgrind_section(tmp_path):
    rep = report.build(plan(ASYNCIO, FAST, workloads=[W_MICRO]), [
        Record(0, W_MICRO.id, "asyncio", {"ops_per_s": 100.0, "seconds": 1.0}),
        Record(0, W_MICRO.id, "fast", {"ops_per_s": 300.0, "seconds": 0.3})], META)
    fresh = report.markdown(rep, "python -m aioloop bench")
    path = tmp_path / "RESULTS.md"

    report.write_markdown(path, rep, "python -m aioloop bench")  # no file yet
    assert path.read_text() == fresh
    report.write_markdown(path, rep, "python -m aioloop bench")  # a file without the section
    assert path.read_text() == fresh

    section = ("## Callgrind: instructions per echo round trip\n\n"
               "| workload | aioloop |\n|---|---:|\n| protocol echo 1024 B | 2,538 |\n\n"
               "### Notes\n\nkept to the end of the file, sub-headings included\n")
    path.write_text("# an old run\n\n| sleep(0) 100k, × asyncio | 1 | 9.99 |\n\n" + section)
    report.write_markdown(path, rep, "python -m aioloop bench")
    text = path.read_text()
    assert text == fresh.rstrip("\n") + "\n\n" + section
    assert "9.99" not in text and "an old run" not in text
    report.write_markdown(path, rep, "python -m aioloop bench")  # stable: nothing doubles
    assert path.read_text() == text
    # only the exact heading line starts the kept part
    assert report.preserved_tail("## Callgrind: instructions per echo round trip, draft\nx\n") == ""


def test_failures_are_reported_not_hidden_or_numbered():
    ok = {"ops_per_s": 100.0, "seconds": 1.0}
    recs = [
        Record(0, W_MICRO.id, "asyncio", ok), Record(1, W_MICRO.id, "asyncio", error="asyncio broke"),
        Record(2, W_MICRO.id, "asyncio", ok),
        Record(0, W_MICRO.id, "fast", {"ops_per_s": 200.0, "seconds": 0.5}),
        Record(1, W_MICRO.id, "fast", {"ops_per_s": 900.0, "seconds": 0.1}),  # asyncio failed: no ratio
        Record(2, W_MICRO.id, "fast", error="TimeoutError in loop.run_until_complete()"),
        *(Record(r, W_MICRO.id, "broken", error="NotImplementedError in loop.create_server()") for r in range(3)),
    ]
    broken = LoopSpec("broken", "x:z")
    rep = report.build(plan(ASYNCIO, FAST, broken, workloads=[W_MICRO]), recs, META)
    cells = rep["workloads"][0]["cells"]
    assert cells["fast"]["status"] == "partial"
    assert cells["fast"]["ratio"] == {"median": 2.0, "min": 2.0, "max": 2.0, "n": 1}
    assert cells["fast"]["rounds_ok"] == 2 and cells["fast"]["rounds_failed"] == 1
    assert cells["broken"]["status"] == "failed"
    assert cells["broken"]["ratio"] is None and cells["broken"]["metrics"] is None
    assert cells["broken"]["error"] == "NotImplementedError in loop.create_server()"
    text = report.render(rep)
    assert "FAILED: NotImplementedError in loop.create_server()" in text
    assert "fast failed 1 of 3 rounds" in text
    assert {"loop": "broken", "error": "NotImplementedError in loop.create_server()",
            "workloads": ["sleep(0) 100k"]} in rep["failures"]


def test_skipped_suite_says_why():
    rep = report.build(plan(ASYNCIO, FAST, workloads=[Workload("http-httptools", "http", "HTTP", native=True)],
                            skipped={"http": "wrk is not installed (apt-get install wrk)"}), [], META)
    assert rep["workloads"][0]["cells"]["fast"] == {"status": "skipped",
                                                    "reason": "wrk is not installed (apt-get install wrk)"}
    assert "skipped: wrk is not installed" in report.render(rep)


def test_loops_parse():
    specs = loops.parse("aioloop, fast=my.mod:make_loop, pkg.mod:factory, c-epoll, aioloop")
    assert [(s.name, s.factory) for s in specs] == [
        ("asyncio", "asyncio:new_event_loop"), ("aioloop", "aioloop:new_event_loop"),
        ("fast", "my.mod:make_loop"), ("pkg.mod:factory", "pkg.mod:factory"), ("c-epoll", None)]
    with pytest.raises(ValueError, match="unknown loop"):
        loops.parse("asyncio,tokio")
    assert [(s.name, s.factory) for s in loops.parse("aioloop-t2")] == [
        ("asyncio", "asyncio:new_event_loop"), ("aioloop-t2", "aioloop.bench.loops:scheduler_loop0")]


def test_aioloop_t2_is_thread_0_of_a_two_thread_scheduler_whose_sibling_runs():
    threads = threading.active_count()
    loop = loops.load_factory(loops.BUILTIN["aioloop-t2"])()
    try:
        assert micro.bench_sleep0(loop, 100) > 0     # a cell's first run starts thread 1

        async def where():
            import aioloop
            s = aioloop.current_scheduler()
            return aioloop.thread_index(), s.threads, s.loops[1].is_running()

        assert loop.run_until_complete(where()) == (0, 2, True)
    finally:
        loop.close()
    assert threading.active_count() == threads      # closing loop 0 joined thread 1


def test_aioloop_t2_runs_echo_and_micro_cells(tmp_path):
    out = tmp_path / "bench.json"
    proc = run_bench("--loops", "aioloop-t2", "--workloads", "echo-protocol-1k,micro-sleep0",
                     "--rounds", "1", "--duration", "0.3", "--warmup", "0.1", "--json", str(out))
    rep = json.loads(out.read_text())
    assert list(rep["meta"]["loops"]) == ["asyncio", "aioloop-t2"]
    assert "dispatch thread 0 of a 2-thread Scheduler" in rep["meta"]["loops"]["aioloop-t2"]
    assert [w["id"] for w in rep["workloads"]] == ["echo-protocol-1k", "micro-sleep0"]
    for w in rep["workloads"]:
        check_cell(w["cells"]["aioloop-t2"], rounds=1)
        assert w["cells"]["aioloop-t2"]["status"] == "ok", w["cells"]["aioloop-t2"]
    assert " aioloop-t2 " in proc.stdout


WRK_OUTPUT = """\
Running 1s test @ http://127.0.0.1:36571/
  1 threads and 100 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.02ms    1.47ms   8.60ms   86.12%
    Req/Sec   129.68k    66.65k  197.83k    60.00%
  Latency Distribution
     50%  356.00us
     75%  597.00us
     90%    3.23ms
     99%    6.35ms
  129365 requests in 1.02s, 9.50MB read
Requests/sec: 127363.36
Transfer/sec:      9.35MB
"""


def test_parse_wrk():
    r = http.parse_wrk(WRK_OUTPUT)
    assert r["requests"] == 129365 and r["p50_us"] == 356.0 and r["p99_us"] == 6350.0
    assert r["req_per_s"] == pytest.approx(129365 / 1.02)
    with pytest.raises(Exception, match="socket errors"):
        http.parse_wrk(WRK_OUTPUT.replace("Requests/sec", "  Socket errors: connect 0, read 3, write 0, "
                                                           "timeout 0\nRequests/sec"))


def test_plot_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    from aioloop.bench import plot
    recs = [Record(r, W_MICRO.id, name, {"ops_per_s": v, "seconds": 1.0})
            for r in range(3) for name, v in (("asyncio", 100.0), ("fast", 150.0 + r))]
    recs += [Record(r, W_MICRO.id, "broken", error="boom") for r in range(3)]
    rep = report.build(plan(ASYNCIO, FAST, LoopSpec("broken", "x:z"), workloads=[W_MICRO]), recs, META)
    plot.write(rep, tmp_path / "r.png")
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run_bench(*args, timeout=110):  # under pytest-timeout's 120 s, so this message wins
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")])))
    proc = subprocess.run([sys.executable, "-m", "aioloop", "bench", "--progress", "plain", *args],
                          capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def check_cell(cell, rounds):
    """A cell is either measured, with a ratio and its spread, or failed with an error and no number."""
    assert cell["status"] in ("ok", "failed"), cell
    if cell["status"] == "ok":
        assert set(cell["ratio"]) == {"median", "min", "max", "n"} and cell["ratio"]["n"] == rounds
        assert cell["ratio"]["min"] <= cell["ratio"]["median"] <= cell["ratio"]["max"]
        assert cell["metrics"] and all(m["n"] == rounds for m in cell["metrics"].values())
        assert cell["error"] is None
    else:
        assert cell["error"] and cell["ratio"] is None and cell["metrics"] is None


def test_quick_run_end_to_end(tmp_path):
    out, samples = tmp_path / "bench.json", tmp_path / "samples"
    proc = run_bench("--quick", "--json", str(out), "--samples", str(samples))
    rep = json.loads(out.read_text())

    expected_loops = ["asyncio", "aioloop"]
    expected_loops += [p for p in ("uvloop", "rloop") if importlib.util.find_spec(p)]
    if cbuild.find_compiler():
        expected_loops.append("c-epoll")
    expected = (echo.workloads(quick=True) + http.workloads(quick=True) + micro.workloads(quick=True)
                + multicore.workloads(quick=True))
    assert [w["id"] for w in rep["workloads"]] == [w.id for w in expected]
    assert list(rep["meta"]["loops"]) == expected_loops
    assert rep["meta"]["rounds"] == 1 and rep["meta"]["quick"]

    for w, spec in zip(rep["workloads"], expected):
        if w["suite"] == "multicore":
            assert list(w["cells"]) == spec.params["variants"], w["id"]
            base = w["cells"][w["baseline"]]
        else:
            names = [n for n in expected_loops if spec.native or n != "c-epoll"]
            assert list(w["cells"]) == names, w["id"]
            base = w["cells"].get("asyncio")
        if w["skipped"]:
            assert w["suite"] == "http" and ("wrk" in w["skipped"] or "httptools" in w["skipped"])
            assert all(c["status"] == "skipped" for c in w["cells"].values())
            continue
        for name, cell in w["cells"].items():
            check_cell(cell, rounds=1)
        assert base["status"] == "ok", base  # the baseline must run
        assert w["title"] in proc.stdout

    table = proc.stdout
    for name in expected_loops:
        assert f" {name} " in table
    assert "× asyncio [min–max]" in table
    for f in rep["failures"]:
        assert f"FAILED: {f['error']}"[:60] in " ".join(table.split())
    # one sample file per measured cell, as ministat input
    measured = [(w["id"], n) for w in rep["workloads"] for n, c in w["cells"].items() if c["status"] == "ok"]
    assert sorted(p.name for p in samples.iterdir()) == sorted(f"{wid}.{n}.txt" for wid, n in measured)


def test_loops_that_fail_show_as_failed_cells(tmp_path):
    """A loop that cannot serve fails the echo cell with the error; a loop that
    cannot even be made fails every cell; the run still completes, and the
    Python fallback load client drives the echo server."""
    out = tmp_path / "bench.json"
    proc = run_bench("--loops", "asyncio,noserver=bench_loops:NoServerLoop,broken=bench_loops:broken",
                     "--workloads", "echo-protocol-1k,micro-sleep0", "--rounds", "2", "--duration", "0.5",
                     "--warmup", "0.1", "--client", "python", "--json", str(out))
    rep = json.loads(out.read_text())
    echo_cells, micro_cells = (w["cells"] for w in rep["workloads"])
    check_cell(echo_cells["asyncio"], rounds=2)
    assert echo_cells["noserver"]["error"] == ("NotImplementedError: no servers on this loop "
                                               "in loop.create_server()")
    check_cell(echo_cells["noserver"], rounds=2)
    check_cell(micro_cells["noserver"], rounds=2)
    assert micro_cells["noserver"]["status"] == "ok"
    for cell in (echo_cells["broken"], micro_cells["broken"]):
        check_cell(cell, rounds=2)
        assert cell["error"] == "bench_loops:broken() failed: RuntimeError: this loop cannot be made in broken()"
    assert "Python fallback" in proc.stdout


# --- the multicore suite ---

W_CPU = Workload("multicore-cpu", "multicore", "CPU-bound scaling: 8 tasks",
                 {"bench": "cpu", "tasks": 8, "ks": [1, 2, 3], "kmain": 2, "variants": ["threads", "aioloop"]})
W_RT = Workload("multicore-roundtrip", "multicore", "round trip",
                {"bench": "roundtrip", "n": 10, "variants": ["asyncio", "aioloop", "uvloop", "c-eventfd"]})


def test_multicore_variants_rotate_and_follow_loops():
    p = plan(ASYNCIO, LoopSpec("aioloop", "aioloop:new_event_loop"), LoopSpec("uvloop", "uvloop:x"),
             workloads=[W_CPU, W_RT])
    assert [(w.id, lp.name) for w, lp in p.cells(0)] == [
        ("multicore-cpu", "threads"), ("multicore-cpu", "aioloop"),
        ("multicore-roundtrip", "asyncio"), ("multicore-roundtrip", "aioloop"),
        ("multicore-roundtrip", "uvloop"), ("multicore-roundtrip", "c-eventfd")]
    assert [lp.name for w, lp in p.cells(1) if w is W_CPU] == ["aioloop", "threads"]
    # uvloop left out of --loops: no uvloop row
    p = plan(ASYNCIO, workloads=[W_RT])
    assert [lp.name for _, lp in p.cells(0)] == ["asyncio", "aioloop", "c-eventfd"]


def _cpu_metrics(seconds):
    out = {"seconds": seconds[0], "gil_enabled": 1}
    for k, s in zip((1, 2, 3), seconds):
        out[f"seconds_k{k}"] = s
        out[f"speedup_k{k}"] = seconds[0] / s
    out["speedup"] = out["speedup_k2"]
    return out


def test_multicore_scaling_ratio_is_per_round_speedup_over_the_threads_speedup():
    rounds = [((1.0, 1.0, 1.0), (1.0, 0.5, 0.5)),      # threads 1×, aioloop 2×
              ((2.0, 2.0, 2.0), (1.2, 0.8, 0.6)),      # threads 1×, aioloop 1.5×
              ((1.0, 0.8, 1.0), (1.0, 0.5, 0.4))]      # threads 1.25×, aioloop 2×
    recs = []
    for r, (threads, aio) in enumerate(rounds):
        recs += [Record(r, W_CPU.id, "threads", _cpu_metrics(threads)),
                 Record(r, W_CPU.id, "aioloop", _cpu_metrics(aio))]
    meta = dict(META, python_build="free-threaded", gil="off")
    rep = report.build(plan(ASYNCIO, workloads=[W_CPU]), recs, meta)
    w = rep["workloads"][0]
    assert w["baseline"] == "threads" and w["primary"] == "speedup"
    assert w["cells"]["aioloop"]["ratio"] == pytest.approx({"median": 1.6, "min": 1.5, "max": 2.0, "n": 3})
    assert [row["k"] for row in w["scaling"]] == [1, 2, 3]
    k2 = w["scaling"][1]
    assert k2["ratio"]["aioloop"] == pytest.approx({"median": 1.6, "min": 1.5, "max": 2.0, "n": 3})
    assert k2["variants"]["threads"]["speedup"]["median"] == 1.0
    assert w["scaling"][0]["ratio"]["aioloop"]["median"] == 1.0
    text = report.render(rep)
    assert "1 (baseline)" in text and "1.60 [1.50–2.00]" in text
    assert "aioloop/threads [min–max]" in text
    assert "GIL ON in: cpu/aioloop, cpu/threads" in text  # the build could run without it
    md = report.markdown(rep, "python -m aioloop bench --suite multicore")
    assert "## Multi-core" in md and "| k | threads | aioloop | aioloop / threads |" in md
    assert "| 2 | 1.00× (1.00 s) | 2.00× (500 ms) | 1.60 [1.50–2.00] |" in md
    assert "| target (" not in md  # no shared-loop workloads, no summary table


def test_eventfd_pingpong_prints_one_json_line():
    if not cbuild.find_compiler():
        pytest.skip("no C compiler")
    exe = cbuild.build("eventfd_pingpong")
    out = subprocess.run([str(exe), "200", "20"], capture_output=True, text=True, timeout=60)
    r = json.loads(out.stdout)
    assert set(r) == {"rounds", "seconds", "p50_us", "p99_us"} and r["rounds"] == 200
    assert 0 < r["p50_us"] <= r["p99_us"]


def test_multicore_suite_end_to_end(tmp_path):
    """The suite at its --quick size: every workload and variant present, each cell
    measured or failed with its error, the scaling table and the GIL state shown."""
    out, md = tmp_path / "mc.json", tmp_path / "RESULTS.md"
    proc = run_bench("--suite", "multicore", "--quick", "--json", str(out), "--markdown", str(md))
    rep = json.loads(out.read_text())
    expected = multicore.workloads(quick=True)
    assert [w["id"] for w in rep["workloads"]] == [w.id for w in expected]
    assert rep["meta"]["python_build"] in ("default", "free-threaded")
    assert rep["meta"]["gil"] in ("on", "off")
    for w, spec in zip(rep["workloads"], expected):
        variants = [v for v in spec.params["variants"]
                    if v != "uvloop" or "uvloop" in rep["meta"]["loops"]]
        assert list(w["cells"]) == variants
        assert w["baseline"] == variants[0] and w["cells"][w["baseline"]]["status"] == "ok", w
        for name, cell in w["cells"].items():
            check_cell(cell, rounds=1)
            if cell["status"] == "ok":
                assert set(w["columns"]) <= set(cell["metrics"])
                assert cell["metrics"]["gil_enabled"]["median"] in (0, 1)
        assert w["title"] in proc.stdout
    cpu = rep["workloads"][0]
    ks = multicore.thread_counts()
    assert [row["k"] for row in cpu["scaling"]] == ks and ks[-1] == (os.cpu_count() or 1) + 1
    if cpu["cells"]["aioloop"]["status"] == "ok":
        assert cpu["scaling"][0]["variants"]["aioloop"]["speedup"]["median"] == 1.0
        assert set(cpu["scaling"][-1]["ratio"]) == {"aioloop"}
    assert "aioloop/threads [min–max]" in proc.stdout
    assert ("build, GIL on" in proc.stdout) or ("build, GIL off" in proc.stdout)
    assert "## Multi-core" in md.read_text()


def test_multicore_sharded_echo_cells(tmp_path):
    """The sharded echo workload (not in --quick): a server per variant, 1 and 2 threads,
    each cell measured or failed with its error."""
    out = tmp_path / "echo.json"
    run_bench("--suite", "multicore", "--workloads", "multicore-echo", "--duration", "0.3",
              "--warmup", "0.1", "--rounds", "1", "--json", str(out))
    (w,) = json.loads(out.read_text())["workloads"]
    assert w["id"] == "multicore-echo" and w["baseline"] == "asyncio k=1"
    names = list(w["cells"])
    assert {"asyncio k=1", "asyncio k=2", "aioloop k=1", "aioloop k=2"} <= set(names)
    assert w["cells"]["asyncio k=1"]["status"] == "ok", w["cells"]["asyncio k=1"]
    for cell in w["cells"].values():
        check_cell(cell, rounds=1)
        if cell["status"] == "ok":
            assert {"req_per_s", "cpu_us_per_req", "p50_us", "p99_us"} <= set(cell["metrics"])


@pytest.mark.parametrize("name", ["dns_cold", "dns_cached", "getaddrinfo"])
def test_dns_cells_resolve_on_every_loop(name, loop):
    # The cells raise if a lookup gives anything but the stub's answers.
    fn, _, title = micro.BENCHMARKS[name]
    assert title.startswith("DNS: ")
    assert fn(loop, 20) > 0


def test_flood_latency_cell_times_one_sleep_and_leaves_no_thread(loop):
    before = threading.active_count()
    assert micro.bench_flood_latency(loop, 1, producers=2) >= 0.05
    assert threading.active_count() == before


def test_plot_without_matplotlib_fails_before_the_run(tmp_path):
    # A run of minutes must not end in "no plot": the check comes first.
    code = ("import sys; sys.modules['matplotlib'] = None; "
            "from aioloop.bench.cli import main; "
            f"sys.exit(main(['--quick', '--suite', 'micro', '--plot', {str(tmp_path / 'r.png')!r}]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "--plot needs matplotlib" in proc.stderr
    assert "round" not in proc.stdout          # nothing was measured


def test_a_report_without_servers_says_nothing_of_cpu_pinning():
    from aioloop.bench import cli
    args = cli.parse_args(["--quick", "--suite", "micro"])
    p = plan(ASYNCIO, FAST, workloads=[W_MICRO])
    assert not any("pinned" in line for line in cli.describe_method(p, args))
    p = plan(ASYNCIO, FAST, workloads=[W_ECHO])
    assert any("pinned" in line for line in cli.describe_method(p, args))


@pytest.mark.parametrize("name", ["fsync_executor", "fsync_daemon"])
def test_fsync_cells_run_on_every_loop_and_leave_no_file(name, loop):
    import glob
    fn, _, title = micro.BENCHMARKS[name]
    assert title.startswith("fsync 10k sequential: ")
    before = set(glob.glob("/dev/shm/aioloop-bench-*"))
    assert fn(loop, 50) > 0
    assert set(glob.glob("/dev/shm/aioloop-bench-*")) == before


# --- other interpreters' rows (--python), more threads (--max-threads), the model ---

def test_python_option_parses_name_equals_path(tmp_path):
    from aioloop.bench import cli
    args = cli.parse_args(["--suite", "multicore", "--python", f"same={sys.executable}",
                           "--python", f"3.13t={sys.executable}", "--max-threads", "16"])
    assert args.pythons == {"same": sys.executable, "3.13t": sys.executable}
    assert args.max_threads == 16
    assert cli.parse_args([]).pythons == {}
    not_exe = tmp_path / "python"
    not_exe.write_text("")
    for bad, message in ((sys.executable, "expected NAME=PATH"), (f"={sys.executable}", "expected NAME=PATH"),
                         ("x=", "expected NAME=PATH"), (f"a b={sys.executable}", "may not contain"),
                         (f"x[1]={sys.executable}", "may not contain"),
                         (f"x={tmp_path / 'missing'}", "is not an executable file"),
                         (f"x={not_exe}", "is not an executable file")):
        with pytest.raises(ValueError, match=re.escape(message)):
            cli.parse_pythons([bad])
    with pytest.raises(ValueError, match="given twice"):
        cli.parse_pythons([f"x={sys.executable}", f"x={sys.executable}"])
    proc = subprocess.run([sys.executable, "-m", "aioloop", "bench", "--python", "nopath"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "expected NAME=PATH" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "aioloop", "bench", "--max-threads", "0"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--max-threads must be positive" in proc.stderr


def test_python_option_needs_the_multicore_suite_and_a_working_interpreter(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "aioloop", "bench", "--suite", "micro",
                           "--python", f"same={sys.executable}"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "--python applies to the multicore suite" in proc.stderr
    fake = tmp_path / "python"       # an interpreter that cannot import aioloop
    fake.write_text("#!/bin/sh\necho 0\nexit 0\n")
    fake.chmod(0o755)
    with pytest.raises(ValueError, match="must import aioloop from"):
        multicore.probe_build(str(fake))


def test_thread_counts_double_up_to_max_threads():
    assert multicore.thread_counts(2) == [1, 2, 3]
    assert multicore.thread_counts(2, 16) == [1, 2, 3, 4, 8, 16]
    assert multicore.thread_counts(2, 10) == [1, 2, 3, 4, 8, 10]
    assert multicore.thread_counts(4, 16) == [1, 2, 3, 4, 5, 8, 16]
    assert multicore.thread_counts(2, 3) == [1, 2, 3]      # nothing beyond cpu_count + 1


def test_configure_adds_each_builds_rows_with_its_own_baseline():
    builds = {"ft": {"python": "/x/python", "env": {"PYTHON_GIL": "0"}, "have": ["uvloop"], "rate": 1e7}}
    ws = multicore.configure([W_CPU, W_RT, W_MICRO], max_threads=8, builds=builds)
    cpu, rt, mic = ws
    assert mic is W_MICRO                                   # other suites pass through
    assert cpu.params["variants"] == ["threads", "aioloop", "threads [ft]", "aioloop [ft]"]
    assert cpu.params["ks"] == multicore.thread_counts(max_threads=8)
    # no C floor for another build: it is not Python; rloop only where that build has it
    assert rt.params["variants"] == ["asyncio", "aioloop", "uvloop", "c-eventfd",
                                     "asyncio [ft]", "aioloop [ft]", "uvloop [ft]"]
    assert W_CPU.params["variants"] == ["threads", "aioloop"]   # the input is not changed
    assert multicore.baseline_for(cpu, "aioloop [ft]") == "threads [ft]"
    assert multicore.baseline_for(cpu, "aioloop") == "threads"
    assert multicore.split_variant("asyncio k=2 [ft]") == ("asyncio k=2", "ft")
    assert multicore.split_variant("asyncio k=2") == ("asyncio k=2", None)


def _cpu_metrics_model(seconds, spawn=1.0, gc=2.0, noop=6.0, noop_gc=1.0):
    out = _cpu_metrics(seconds)
    out.update(noop_us=noop, noop_spawn_us=spawn, noop_gc_us=noop_gc, gc_us_k1=gc)
    return out


def test_other_builds_rows_take_their_ratio_to_their_own_baseline_and_show_the_model():
    w = multicore.configure([W_CPU], builds={"ft": {"python": "/x/python", "env": {"PYTHON_GIL": "0"},
                                                     "have": [], "rate": 1e7}})[0]
    recs = []
    for r in range(2):
        recs += [Record(r, W_CPU.id, "threads", _cpu_metrics((1.0, 1.0, 1.0))),
                 Record(r, W_CPU.id, "aioloop", _cpu_metrics_model((1.0, 1.0, 1.0))),
                 Record(r, W_CPU.id, "threads [ft]", dict(_cpu_metrics((1.0, 0.5, 0.5)), gil_enabled=0)),
                 Record(r, W_CPU.id, "aioloop [ft]", dict(_cpu_metrics_model((1.2, 0.8, 0.6)), gil_enabled=0))]
    meta = dict(META, python_build="default", gil="on", build_tag="3.12",
                builds={"ft": {"python": "/x/python", "version": "CPython 3.13.1", "python_build": "free-threaded",
                               "env": {"PYTHON_GIL": "0"}, "gil": "off", "have": [], "rate": 1e7}})
    rep = report.build(plan(ASYNCIO, workloads=[w]), recs, meta)
    (wr,) = rep["workloads"]
    cells = wr["cells"]
    assert list(cells) == ["threads", "aioloop", "threads [ft]", "aioloop [ft]"]
    assert cells["aioloop [ft]"]["baseline"] == "threads [ft]" and "baseline" not in cells["aioloop"]
    # ft: aioloop 1.5× over threads' 2× at k=2 -> 0.75; the main build: 1× over 1×
    assert cells["aioloop [ft]"]["ratio"]["median"] == pytest.approx(0.75)
    assert cells["aioloop"]["ratio"]["median"] == 1.0
    assert wr["scaling"][1]["ratio"] == {"aioloop": pytest.approx({"median": 1.0, "min": 1.0, "max": 1.0, "n": 2}),
                                         "aioloop [ft]": pytest.approx({"median": 0.75, "min": 0.75,
                                                                        "max": 0.75, "n": 2})}
    assert "threads [ft]" not in wr["scaling"][1]["ratio"]   # a baseline has no ratio
    text = report.render(rep)
    assert "aioloop [ft]/threads [ft] [min–max]" in text and "aioloop/threads [min–max]" in text
    assert "[ft] rows: CPython 3.13.1 (free-threaded build, GIL off, workers with PYTHON_GIL=0)" in text
    assert "GIL off in every cell of the free-threaded build." in text
    # the model: spawn 1, GC 2, other 6 - 1 - 1 = 4; at k=16, 100 µs tasks: 107 / (2 + max(105/16, 1))
    assert multicore.model_inputs(cells["aioloop"]["metrics"]) == {"spawn": 1.0, "gc": 2.0, "other": 4.0}
    rows = report.model_rows(wr, meta)
    assert [(b, free) for b, free, _, _ in rows] == [("3.12", False), ("ft", True)]
    assert rows[0][3][(100, 16)] == pytest.approx(107 / (2 + 105 / 16))
    assert "3.12   1.00   2.00  4.00   12.5×" in text
    md = report.markdown(rep, "python -m aioloop bench --suite multicore", ["bench.scaling.png"])
    assert "| k | threads | aioloop | threads [ft] | aioloop [ft] | aioloop / threads | " \
           "aioloop [ft] / threads [ft] |" in md
    assert "| 2 | 1.00× (1.00 s) | 1.00× (1.00 s) | 2.00× (500 ms) | 1.50× (800 ms) | 1.00 [1.00–1.00] | " \
           "0.75 [0.75–0.75] |" in md
    assert "| 3.12 | 1.00 | 2.00 | 4.00 | 12.5× |" in md
    assert "![speed-up against threads](bench.scaling.png)" in md
    # a GIL left on in a free-threaded build's cell is named; the GIL build's cells are not
    recs[-1] = Record(1, W_CPU.id, "aioloop [ft]", _cpu_metrics_model((1.2, 0.8, 0.6)))
    text = report.render(report.build(plan(ASYNCIO, workloads=[w]), recs, meta))
    assert "GIL ON in: cpu/aioloop [ft] (" in text


def test_scaling_model_arithmetic():
    inputs = {"spawn": 2.0, "gc": 0.0, "other": 8.0}
    # no serial part but the spawn: k threads, until thread 0 cannot spawn fast enough
    assert multicore.scaling_model(90, inputs, 1) == pytest.approx(1.0)
    assert multicore.scaling_model(90, inputs, 16) == pytest.approx(16.0)
    assert multicore.scaling_model(10, inputs, 16) == pytest.approx(20 / 2)   # spawn-bound: 10×
    # a serial collector: Amdahl
    inputs = {"spawn": 1.0, "gc": 10.0, "other": 9.0}
    assert multicore.scaling_model(90, inputs, 16) == pytest.approx(110 / (10 + 100 / 16))
    assert multicore.model_inputs(None) is None
    assert multicore.model_inputs({"noop_us": {"median": 1.0}}) is None


def test_a_cell_runs_under_another_interpreter_named_as_a_build():
    """The same interpreter, given as another build: the cell's worker runs it with
    foreign_env() (this tree first on PYTHONPATH, not our sys.path), with the
    rate the probe measured, and reports the costs the model needs."""
    build = multicore.probe_build(sys.executable)
    assert build["python"] == sys.executable and build["rate"] > 0
    free = bool(__import__("sysconfig").get_config_var("Py_GIL_DISABLED"))
    assert build["env"] == ({"PYTHON_GIL": "0"} if free else {})
    assert build["python_build"] == ("free-threaded" if free else "default")
    w = multicore.configure([Workload("multicore-cpu", "multicore", "cpu",
                                      {"bench": "cpu", "tasks": 40, "ks": [1, 2], "kmain": 2, "work_us": 50,
                                       "variants": ["threads", "aioloop"]})], builds={"same": build})[0]
    m = multicore.measure(w, LoopSpec("aioloop [same]", "multicore:aioloop [same]"), Settings())
    assert m["iters"] == max(10, int(build["rate"] * 50e-6))
    assert m["speedup_k1"] == 1.0 and m["seconds_k2"] > 0
    assert m["gil_enabled"] == (0 if free else 1)
    assert {"spawn_us_k1", "spawn_us_k2", "gc_us_k1", "gc_runs_k2", "stolen_k2",
            "noop_us", "noop_spawn_us", "noop_gc_us"} <= set(m)
    assert m["stolen_k1"] == 0 and 0 < m["noop_spawn_us"] < m["noop_us"]
    with pytest.raises(CellError, match="no interpreter given for build 'other'"):
        multicore.measure(w, LoopSpec("aioloop [other]", "x"), Settings())


def test_foreign_env_keeps_this_interpreters_paths_out():
    from aioloop.bench import proc
    env = proc.foreign_env({"PYTHON_GIL": "0"})
    paths = env["PYTHONPATH"].split(os.pathsep)
    assert paths[0] == proc.aioloop_root()
    assert not any("site-packages" in p or p.endswith(f"python{sys.version_info.major}."
                                                    f"{sys.version_info.minor}") for p in paths
                   if p not in (os.environ.get("PYTHONPATH") or "").split(os.pathsep))
    assert env["PYTHON_GIL"] == "0"
    argv = proc.worker_argv("multicore", python="/x/python", variant="aioloop")
    assert argv[:4] == ["/x/python", "-m", "aioloop.bench.worker", "multicore"]


def test_python_rows_plot_and_markdown_end_to_end(tmp_path):
    """--python with the same interpreter under another name, the coarse CPU workload
    (16 tasks): both builds' rows in the text, the JSON and the Markdown, and with
    --plot the Markdown links the charts written beside it."""
    plotting = importlib.util.find_spec("matplotlib") is not None   # the optional [plot] extra
    out, md = tmp_path / "mc.json", tmp_path / "RESULTS.md"
    proc = run_bench("--suite", "multicore", "--workloads", "multicore-cpu-coarse", "--quick",
                     "--python", f"again={sys.executable}", "--json", str(out), "--markdown", str(md),
                     *(["--plot", str(tmp_path / "bench.png")] if plotting else []))
    rep = json.loads(out.read_text())
    (w,) = rep["workloads"]
    assert list(w["cells"]) == ["threads", "aioloop", "threads [again]", "aioloop [again]"]
    assert w["cells"]["threads [again]"]["status"] == "ok", w["cells"]["threads [again]"]
    assert w["cells"]["aioloop [again]"]["baseline"] == "threads [again]"
    assert rep["meta"]["builds"]["again"]["python"] == sys.executable
    assert "aioloop [again]/threads [again] [min–max]" in proc.stdout
    assert "[again] rows: " in proc.stdout
    text = md.read_text()
    assert "| k | threads | aioloop | threads [again] | aioloop [again] |" in text
    if plotting:
        assert (tmp_path / "bench.scaling.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert "![speed-up against threads](bench.scaling.png)" in text
        assert "![ratios to the baselines](bench.png)" in text
    else:
        assert "![" not in text
