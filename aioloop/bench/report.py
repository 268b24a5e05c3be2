"""The report: from cell records to figures with spreads, a table, JSON and ministat samples.

A workload's result for a loop is the median, over rounds, of that round's
ratio to asyncio, shown with the minimum and maximum of those ratios.  The
ratio is oriented so that above 1 is better than asyncio: asyncio's value over
this loop's for a cost (server CPU time per request), this loop's over
asyncio's for a rate (operations per second).  Absolute figures are medians
over rounds, with their spread as the largest deviation from that median, in
per cent.  A ratio exists only for rounds where both the loop and asyncio
succeeded; a cell that failed says so, with the error, and shows no number.
"""

import os
import statistics
from collections import defaultdict

from .loops import BASELINE
from .runner import SUITES

METRICS = {
    # name: (column header, formatter)
    "cpu_us_per_req": ("CPU µs/req", lambda v: _sig(v)),
    "req_per_s": ("req/s", lambda v: _si(v)),
    "p50_us": ("p50 µs", lambda v: _sig(v)),
    "p99_us": ("p99 µs", lambda v: _sig(v)),
    "ops_per_s": ("ops/s", lambda v: _si(v)),
    "seconds": ("time", lambda v: f"{v * 1e3:.0f} ms" if v < 1 else f"{v:.2f} s"),
}

SUITE_TITLES = {
    "echo": "echo · server CPU time per request decides the ratio",
    "http": "HTTP · server CPU time per request decides the ratio",
    "micro": "micro · operations per second decide the ratio",
}


def _sig(v):
    """Three significant figures, never in exponent form."""
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _si(v):
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if v >= div:
            return f"{_sig(v / div)}{suffix}"
    return _sig(v)


def summarize(values):
    """{"median", "min", "max", "n"} of a non-empty list of numbers."""
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}


def build(plan, records, meta):
    """The report as a JSON-ready dict (see benchmarks/README.md for its shape)."""
    by_cell = defaultdict(dict)  # (workload id, loop name) -> {round: Record}
    for rec in records:
        by_cell[rec.workload, rec.loop][rec.round] = rec

    workloads, failures = [], defaultdict(list)
    for w in plan.workloads:
        suite = SUITES[w.suite]
        base = by_cell.get((w.id, BASELINE), {})
        cells = {}
        for lp in plan.loops_for(w):
            if w.suite in plan.skipped:
                cells[lp.name] = {"status": "skipped", "reason": plan.skipped[w.suite]}
                continue
            rounds = by_cell.get((w.id, lp.name), {})
            ok = {r: rec for r, rec in rounds.items() if rec.ok}
            failed = {r: rec for r, rec in rounds.items() if not rec.ok}
            ratios = []
            for r, rec in sorted(ok.items()):
                b = base.get(r)
                if b is None or not b.ok:
                    continue
                mine, theirs = rec.metrics[suite.PRIMARY], b.metrics[suite.PRIMARY]
                ratios.append(mine / theirs if suite.HIGHER_IS_BETTER else theirs / mine)
            cell = {
                "status": ("not run" if not rounds else "ok" if not failed
                           else "failed" if not ok else "partial"),
                "rounds_ok": len(ok),
                "rounds_failed": len(failed),
                "ratio": summarize(ratios) if ratios else None,
                "metrics": {m: summarize([rec.metrics[m] for rec in ok.values()])
                            for m in suite.COLUMNS} if ok else None,
                "error": None,
                "samples": [{"round": r + 1, **({"metrics": rec.metrics} if rec.ok else {"error": rec.error})}
                            for r, rec in sorted(rounds.items())],
            }
            if failed:
                # the first round's error names the cause; later ones are usually the same
                cell["error"] = failed[min(failed)].error
                failures[lp.name, cell["error"]].append(w.title)
            cells[lp.name] = cell
        workloads.append({"id": w.id, "suite": w.suite, "title": w.title, "primary": suite.PRIMARY,
                          "higher_is_better": suite.HIGHER_IS_BETTER, "skipped": plan.skipped.get(w.suite),
                          "cells": cells})
    return {
        "meta": meta,
        "workloads": workloads,
        "failures": [{"loop": loop, "error": err, "workloads": titles}
                     for (loop, err), titles in failures.items()],
    }


def _fmt_value(metric, s, rounds):
    text = METRICS[metric][1](s["median"])
    if rounds > 1 and s["median"]:
        dev = max(s["max"] - s["median"], s["median"] - s["min"]) / s["median"] * 100
        text += f" ±{dev:.0f}%"
    return text


def _fmt_ratio(s):
    f = (lambda v: f"{v:.1f}") if s["max"] >= 10 else (lambda v: f"{v:.2f}")
    return f"{f(s['median'])} [{f(s['min'])}–{f(s['max'])}]"


class _Span(str):
    """A table cell that runs on to the end of its line and sets no column's width."""


def _table(rows):
    """Left-align the cells of `rows` (lists of strings) into columns; a row
    that is a plain string is printed as is (a note)."""
    widths = defaultdict(int)
    for row in rows:
        if isinstance(row, list):
            for i, cell in enumerate(row):
                if not isinstance(cell, _Span):
                    widths[i] = max(widths[i], len(cell))
    out = []
    for row in rows:
        if isinstance(row, str):
            out.append(row)
        else:
            out.append("  ".join(c.ljust(widths[i]) for i, c in enumerate(row)).rstrip())
    return out


def render(report):
    """The human-readable report: header, one table per suite, failures."""
    meta = report["meta"]
    rounds = meta["rounds"]
    lines = [
        f"aioloop bench · {meta['date']} · {meta['python']} · {meta['platform']} · "
        f"{meta['cpus']} CPUs ({meta['cpu_model']})",
        *([f"load average {meta['load_average'][0]:g} at the start, {meta['load_average'][1]:g} at the end "
           f"(above 0 means other work shared the CPUs); run time {meta['elapsed_s']:.0f} s"]
          if "load_average" in meta else []),
        "loops:",
        *(f"  {name:<10} {desc}" for name, desc in meta["loops"].items()),
        *(f"  {note}" for note in meta["notes"]),
        "method:",
        *(f"  {line}" for line in meta["method"]),
        "  × asyncio = median over rounds of the ratio to asyncio in the same round, [min–max];"
        " above 1 is better than asyncio.",
        "  Other figures: median over rounds" + (", ±largest deviation from it." if rounds > 1 else
                                                   "; one round, so no spread: use --rounds 5 for spreads."),
    ]
    for suite in SUITES:
        ws = [w for w in report["workloads"] if w["suite"] == suite]
        if not ws:
            continue
        lines += ["", SUITE_TITLES[suite]]
        if ws[0]["skipped"]:
            lines.append(f"  skipped: {ws[0]['skipped']}")
            continue
        columns = SUITES[suite].COLUMNS
        rows = [["workload", "loop", f"× {BASELINE} [min–max]", *(METRICS[m][0] for m in columns)]]
        for w in ws:
            first = True
            for loop, cell in w["cells"].items():
                label = w["title"] if first else ""
                first = False
                if cell["status"] == "not run":
                    rows.append([label, loop, _Span("not run (interrupted)")])
                    continue
                if cell["status"] == "failed":
                    rows.append([label, loop, _Span("FAILED: " + _clip(cell["error"], 110))])
                    continue
                if loop == BASELINE:
                    ratio = "1 (baseline)"
                elif cell["ratio"]:
                    ratio = _fmt_ratio(cell["ratio"])
                else:
                    ratio = f"n/a ({BASELINE} failed)"
                rows.append([label, loop, ratio,
                             *(_fmt_value(m, cell["metrics"][m], cell["rounds_ok"]) for m in columns)])
                if cell["status"] == "partial":
                    n = cell["rounds_ok"] + cell["rounds_failed"]
                    rows.append(f"{'':<4}↳ {loop} failed {cell['rounds_failed']} of {n} rounds: "
                                f"{_clip(cell['error'], 100)}")
        lines += _table(rows)
    if report["failures"]:
        lines += ["", "failures (each cell shown as FAILED above; full messages in --json):"]
        for f in report["failures"]:
            lines.append(f"  {f['loop']}: {f['error']}")
            lines.append(f"      in: {', '.join(f['workloads'])}")
    if meta.get("interrupted"):
        lines += ["", "interrupted: the table shows the cells run before Ctrl-C."]
    return "\n".join(lines) + "\n"


def _clip(text, n):
    text = " ".join(str(text).split())
    return text if len(text) <= n else text[: n - 1] + "…"


def write_samples(report, directory):
    """One ministat input file per (workload, loop): the primary metric of each
    successful round, one number a line.  Returns the paths written."""
    os.makedirs(directory, exist_ok=True)
    paths = []
    for w in report["workloads"]:
        for loop, cell in w["cells"].items():
            values = [s["metrics"][w["primary"]] for s in cell.get("samples", ()) if "metrics" in s]
            if not values:
                continue
            path = os.path.join(directory, f"{w['id']}.{loop}.txt")
            with open(path, "w") as f:
                f.write(f"# {w['title']} · {loop} · {w['primary']} per round\n")
                f.writelines(f"{v:.6g}\n" for v in values)
            paths.append(path)
    return paths


# Issue 7's targets for aioloop on this kind of machine: server CPU µs per request at most
# (echo), or the ratio to asyncio at least (HTTP, micro). RESULTS.md says for each whether
# the run met it, judged on the median.
TARGET_LOOP = "aioloop"
TARGETS = {
    "echo-protocol-1k": ("cpu_us_per_req", 5.0),
    "echo-protocol-100k": ("cpu_us_per_req", 14.5),
    "echo-streams-1k": ("cpu_us_per_req", 6.5),
    "echo-sock-1k": ("cpu_us_per_req", 6.0),
    "http-httptools": ("ratio", 1.25),
    "micro-call_soon": ("ratio", 4.5),
    "micro-timers": ("ratio", 4.0),
    "micro-future": ("ratio", 4.5),
    "micro-sleep0": ("ratio", 4.5),
    "micro-threadsafe": ("ratio", 20.0),
    "micro-executor": ("ratio", 3.0),
}


def target_verdict(workload):
    """'≤ 5 µs: met' or '≥ 20×: not met' for TARGET_LOOP's cell of a workload with an
    issue-7 target; "" when there is no target or no figure to judge."""
    target = TARGETS.get(workload["id"])
    cell = workload["cells"].get(TARGET_LOOP)
    if target is None or cell is None or cell["status"] not in ("ok", "partial"):
        return ""
    what, bound = target
    if what == "ratio":
        if not cell["ratio"]:
            return ""
        met = cell["ratio"]["median"] >= bound
        text = f"≥ {bound:g}×"
    else:
        met = cell["metrics"][what]["median"] <= bound
        text = f"≤ {bound:g} µs"
    return f"{text}: {'met' if met else 'not met'}"


def markdown(report, command):
    """RESULTS.md: the run's summary as one Markdown table (a row per workload,
    a column per loop; for echo and HTTP the server's CPU µs per request, then
    the ratio to asyncio; for micro the ratio), then the full text report."""
    meta = report["meta"]
    loops = list(dict.fromkeys(name for w in report["workloads"] for name in w["cells"]))
    lines = [
        "# aioloop benchmark results",
        "",
        f"{meta['date']} · {meta['python']} · {meta['platform']} · {meta['cpus']} CPUs ({meta['cpu_model']})",
        "",
        f"Generated by `{command}`; rerun it to regenerate this file.",
        "",
        f"| workload | " + " | ".join(loops) + f" | issue 7 target ({TARGET_LOOP}) |",
        "|---|" + "---|" * (len(loops) + 1),
    ]
    for w in report["workloads"]:
        unit = "CPU µs/req (× asyncio)" if w["primary"] == "cpu_us_per_req" else "× asyncio"
        row = [f"{w['title']}, {unit}"]
        for loop in loops:
            cell = w["cells"].get(loop)
            if cell is None:
                row.append("")
            elif cell["status"] == "skipped":
                row.append("skipped")
            elif cell["status"] in ("failed", "not run"):
                row.append(cell["status"])
            else:
                ratio = "1" if loop == BASELINE else _fmt_ratio(cell["ratio"]) if cell["ratio"] else "n/a"
                if w["primary"] == "cpu_us_per_req":
                    value = _fmt_value(w["primary"], cell["metrics"][w["primary"]], cell["rounds_ok"])
                    row.append(f"{value} ({ratio})")
                else:
                    row.append(ratio)
                if cell["status"] == "partial":
                    row[-1] += f" ({cell['rounds_failed']} rounds failed)"
        row.append(target_verdict(w))
        lines.append("| " + " | ".join(row) + " |")
    if report["failures"]:
        lines += ["", "Failed cells are listed with their errors at the end of the report below."]
    lines += ["", "```", render(report).rstrip("\n"), "```", ""]
    return "\n".join(lines)


# RESULTS.md may end with sections that another tool writes (benchmarks/callgrind_echo.py's
# instruction counts); rewriting the file keeps everything from this heading to the end.
PRESERVED_HEADING = "## Callgrind: instructions per echo round trip"


def preserved_tail(text):
    """The part of an existing RESULTS.md that a rewrite keeps: from the line that is
    exactly PRESERVED_HEADING to the end of the file, or "" when there is no such line."""
    lines = text.splitlines(keepends=True)
    for i, line in enumerate(lines):
        if line.rstrip("\r\n") == PRESERVED_HEADING:
            return "".join(lines[i:])
    return ""


def write_markdown(path, report, command):
    """Write markdown(report, command) to path, keeping the preserved tail of the file
    already there (see PRESERVED_HEADING)."""
    try:
        with open(path, encoding="utf-8") as f:
            tail = preserved_tail(f.read())
    except FileNotFoundError:
        tail = ""
    text = markdown(report, command)
    if tail:
        text = text.rstrip("\n") + "\n\n" + tail
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
