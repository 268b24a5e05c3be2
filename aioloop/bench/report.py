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
    "speedup": ("speed-up", lambda v: f"{v:.2f}×"),
    "handoffs_per_s": ("hand-offs/s", lambda v: _si(v)),
    "handoff_pct": ("hand-off share", lambda v: f"{v:.0f}%"),
}

SUITE_TITLES = {
    "echo": "echo · server CPU time per request decides the ratio",
    "http": "HTTP · server CPU time per request decides the ratio",
    "micro": "micro · operations per second decide the ratio",
    "multicore": "multicore · each workload's ratio is to its baseline row, above 1 is better",
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


def workload_spec(w):
    """What decides a workload's ratio: {"primary", "higher_is_better", "baseline",
    "columns"}.  A suite whose workloads differ (multicore) says per workload."""
    suite = SUITES[w.suite]
    if hasattr(suite, "spec"):
        return suite.spec(w)
    return {"primary": suite.PRIMARY, "higher_is_better": suite.HIGHER_IS_BETTER,
            "baseline": BASELINE, "columns": suite.COLUMNS}


def _common_keys(dicts):
    keys = None
    for d in dicts:
        keys = [k for k in d if isinstance(d[k], (int, float))] if keys is None else \
            [k for k in keys if k in d]
    return keys or []


def build(plan, records, meta):
    """The report as a JSON-ready dict (see benchmarks/README.md for its shape)."""
    by_cell = defaultdict(dict)  # (workload id, loop name) -> {round: Record}
    for rec in records:
        by_cell[rec.workload, rec.loop][rec.round] = rec

    workloads, failures = [], defaultdict(list)
    for w in plan.workloads:
        spec = workload_spec(w)
        primary, higher = spec["primary"], spec["higher_is_better"]
        baseline_of = _baselines(w, spec)
        cells = {}
        for lp in plan.loops_for(w):
            if w.suite in plan.skipped:
                cells[lp.name] = {"status": "skipped", "reason": plan.skipped[w.suite]}
                continue
            base = by_cell.get((w.id, baseline_of(lp.name)), {})
            rounds = by_cell.get((w.id, lp.name), {})
            ok = {r: rec for r, rec in rounds.items() if rec.ok}
            failed = {r: rec for r, rec in rounds.items() if not rec.ok}
            ratios = []
            for r, rec in sorted(ok.items()):
                b = base.get(r)
                if b is None or not b.ok:
                    continue
                mine, theirs = rec.metrics[primary], b.metrics[primary]
                if higher and theirs > 0:
                    ratios.append(mine / theirs)
                elif not higher and mine > 0:
                    ratios.append(theirs / mine)
            cell = {
                "status": ("not run" if not rounds else "ok" if not failed
                           else "failed" if not ok else "partial"),
                "rounds_ok": len(ok),
                "rounds_failed": len(failed),
                "ratio": summarize(ratios) if ratios else None,
                "metrics": {m: summarize([rec.metrics[m] for rec in ok.values()])
                            for m in _common_keys(rec.metrics for rec in ok.values())} if ok else None,
                "error": None,
                "samples": [{"round": r + 1, **({"metrics": rec.metrics} if rec.ok else {"error": rec.error})}
                            for r, rec in sorted(rounds.items())],
            }
            if baseline_of(lp.name) != spec["baseline"]:
                cell["baseline"] = baseline_of(lp.name)     # another build's rows: its own baseline
            if failed:
                # the first round's error names the cause; later ones are usually the same
                cell["error"] = failed[min(failed)].error
                failures[lp.name, cell["error"]].append(w.title)
            cells[lp.name] = cell
        entry = {"id": w.id, "suite": w.suite, "title": w.title, "primary": primary,
                 "higher_is_better": higher, "skipped": plan.skipped.get(w.suite), "cells": cells}
        if spec["baseline"] != BASELINE or hasattr(SUITES[w.suite], "spec"):
            entry["baseline"] = spec["baseline"]
            entry["columns"] = list(spec["columns"])
        if "ks" in w.params:
            entry["scaling"] = scaling(w, by_cell, plan.loops_for(w), baseline_of)
        workloads.append(entry)
    return {
        "meta": meta,
        "workloads": workloads,
        "failures": [{"loop": loop, "error": err, "workloads": titles}
                     for (loop, err), titles in failures.items()],
    }


def _baselines(w, spec):
    """name -> the row whose figure `name`'s ratio is taken to: the workload's
    baseline, or what the suite says per row (multicore: the same build's baseline)."""
    suite = SUITES[w.suite]
    if hasattr(suite, "baseline_for"):
        return lambda name: suite.baseline_for(w, name)
    return lambda name: spec["baseline"]


def _baseline_of_cell(w, name):
    """The baseline of row `name` in a built report (a cell may name its own)."""
    cell = w["cells"].get(name) or {}
    return cell.get("baseline", w.get("baseline", BASELINE))


def scaling(w, by_cell, variants, baseline_of):
    """The CPU-scaling table of a workload measured at several thread counts (params
    "ks"): per k, each variant's time and speed-up over its own k=1 (medians over
    rounds), and per other variant the median over rounds of its speed-up over its
    baseline's (baseline_of(name)) in the same round, [min, max]."""
    rows = []
    names = [lp.name for lp in variants]
    for k in w.params["ks"]:
        row = {"k": k, "variants": {}, "ratio": {}}
        for name in names:
            ok = [rec for rec in by_cell.get((w.id, name), {}).values()
                  if rec.ok and f"speedup_k{k}" in rec.metrics]
            if ok:
                row["variants"][name] = {
                    "seconds": summarize([r.metrics[f"seconds_k{k}"] for r in ok]),
                    "speedup": summarize([r.metrics[f"speedup_k{k}"] for r in ok])}
        for name in names:
            if name == baseline_of(name):
                continue
            base = by_cell.get((w.id, baseline_of(name)), {})
            ratios = []
            for rnd, rec in by_cell.get((w.id, name), {}).items():
                b = base.get(rnd)
                if rec.ok and b is not None and b.ok:
                    ratios.append(rec.metrics[f"speedup_k{k}"] / b.metrics[f"speedup_k{k}"])
            if ratios:
                row["ratio"][name] = summarize(ratios)
        rows.append(row)
    return rows


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
        f"aioloop bench · {meta['date']} · {meta['python']}{_build(meta)} · {meta['platform']} · "
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
        if "columns" in ws[0]:
            lines += _render_own_tables(ws, meta)
            continue
        columns = SUITES[suite].COLUMNS
        lines += _table([["workload", "loop", f"× {BASELINE} [min–max]", *(METRICS[m][0] for m in columns)],
                         *_rows(ws, columns, BASELINE)])
    if report["failures"]:
        lines += ["", "failures (each cell shown as FAILED above; full messages in --json):"]
        for f in report["failures"]:
            lines.append(f"  {f['loop']}: {f['error']}")
            lines.append(f"      in: {', '.join(f['workloads'])}")
    if meta.get("interrupted"):
        lines += ["", "interrupted: the table shows the cells run before Ctrl-C."]
    return "\n".join(lines) + "\n"


def _build(meta):
    """' (free-threaded build, GIL off)' for the header; '' for reports that predate it."""
    if "python_build" not in meta:
        return ""
    return f" ({meta['python_build']} build, GIL {meta['gil']})"


def _rows(ws, columns, baseline):
    """Table rows for workloads `ws`: one per (workload, loop), the title on the first,
    a failed cell as its error, a partly failed one with a note under it."""
    rows = []
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
            mine = cell.get("baseline", baseline)
            if loop == mine:
                ratio = "1 (baseline)"
            elif cell["ratio"]:
                ratio = _fmt_ratio(cell["ratio"])
            else:
                ratio = f"n/a ({mine} failed)"
            rows.append([label, loop, ratio,
                         *(_fmt_value(m, cell["metrics"][m], cell["rounds_ok"]) for m in columns)])
            if cell["status"] == "partial":
                n = cell["rounds_ok"] + cell["rounds_failed"]
                rows.append(f"{'':<4}↳ {loop} failed {cell['rounds_failed']} of {n} rounds: "
                            f"{_clip(cell['error'], 100)}")
    return rows


def _build_of_row(name):
    """"3.13t" for a row "aioloop [3.13t]" (another build's), None for the bench's own."""
    from .multicore import split_variant
    return split_variant(name)[1]


def _free_threaded(meta, build):
    if build is None:
        return meta.get("python_build") == "free-threaded"
    return (meta.get("builds") or {}).get(build, {}).get("python_build") == "free-threaded"


def _gil_note(ws, meta):
    """Which cells ran with the GIL on, among the rows of builds that can run without it."""
    rows = [(w, loop, cell) for w in ws for loop, cell in w["cells"].items()
            if _free_threaded(meta, _build_of_row(loop))]
    if not rows:
        return []
    on = sorted({f"{w['id'].removeprefix('multicore-')}/{loop}" for w, loop, cell in rows
                 if (cell.get("metrics") or {}).get("gil_enabled", {}).get("max")})
    mixed = len(rows) < sum(len(w["cells"]) for w in ws)  # GIL-build rows too: say which are meant
    where = " of the free-threaded build" if mixed else ""
    if not on:
        return [f"  GIL off in every cell{where}."]
    return [f"  GIL ON in: {', '.join(on)} (a C extension without free-threading support turned it "
            "back on; PYTHON_GIL=0 keeps it off)"]


def _builds_legend(meta):
    """One line per other build whose rows are in the tables."""
    out = []
    for name, b in (meta.get("builds") or {}).items():
        env = " ".join(f"{k}={v}" for k, v in b.get("env", {}).items())
        out.append(f"  [{name}] rows: {b['version']} ({b['python_build']} build, GIL {b['gil']}"
                   + (f", workers with {env}" if env else "") + f"), {b['python']}")
    return out


def _render_own_tables(ws, meta):
    """A suite whose workloads have rows and baselines of their own (multicore):
    one table per workload, and the scaling table where there is one."""
    lines = [f"  Python: {meta.get('python', '?')}, {meta.get('python_build', 'default')} build, "
             f"GIL {meta.get('gil', 'on')} in the bench process; {meta.get('cpus')} CPUs.",
             *_builds_legend(meta),
             *_gil_note(ws, meta)]
    legend = getattr(SUITES[ws[0]["suite"]], "VARIANTS", {})
    used = list(dict.fromkeys(n for w in ws for n in w["cells"]))
    lines += [f"  {n:<18} {legend[n]}" for n in used if n in legend]
    for w in ws:
        columns = w["columns"]
        baseline = w["baseline"]
        lines.append("")
        lines += _table([["workload", "variant", f"× {baseline} [min–max]",
                          *(METRICS[m][0] for m in columns)], *_rows([w], columns, baseline)])
        if w.get("scaling"):
            lines += ["", f"  {w['title'].split(':')[0]}: speed-up over k=1 of the same variant, "
                          "and the ratio of the speed-ups in the same round"]
            lines += _scaling_table(w)
            lines += _model_lines(w, meta)
    return lines


def model_rows(w, meta):
    """Per build with an aioloop row on the CPU workload: (build name, model inputs,
    {(work µs, k): predicted speed-up}) from multicore.scaling_model()."""
    from . import multicore
    if w.get("id") != "multicore-cpu":
        return []
    out = []
    for name, cell in w["cells"].items():
        if multicore.split_variant(name)[0] != "aioloop":
            continue
        inputs = multicore.model_inputs(cell.get("metrics"))
        if inputs is None:
            continue
        build = _build_of_row(name) or meta.get("build_tag") or meta.get("python", "?")
        preds = {(t, k): multicore.scaling_model(t, inputs, k)
                 for t in multicore.MODEL_WORK_US for k in multicore.MODEL_KS}
        out.append((build, _free_threaded(meta, _build_of_row(name)), inputs, preds))
    return out


def _model_lines(w, meta):
    rows = model_rows(w, meta)
    if not rows:
        return []
    lines = ["", "  What limits the speed-up (benchmarks/README.md, the model): per task, µs, medians over "
                 "rounds of the aioloop row",
             "  spawn: thread 0's time per unhinted spawn (serial); GC: the collector's (serial on a "
             "free-threaded build: it stops every thread); other: the rest besides the work (parallel)"]
    table = [["  build", "spawn", "GC", "other", *(f"k={k}, {t:g} µs tasks" for t, k in rows[0][3])]]
    for build, free, inputs, preds in rows:
        table.append([f"  {build}", f"{inputs['spawn']:.2f}", f"{inputs['gc']:.2f}", f"{inputs['other']:.2f}",
                      *(f"{v:.1f}×" for v in preds.values())])
    lines += _table(table)
    if any(not free for _, free, _, _ in rows):
        lines.append("  (with the GIL, k threads of Python do not run at once: the model's speed-up is "
                     "what the Scheduler would allow without it)")
    return lines


def _scaling_table(w):
    names = list(w["cells"])
    others = [n for n in names if n != _baseline_of_cell(w, n)]
    head = ["  k"]
    for n in names:
        head += [f"{n} time", f"{n} speed-up"]
    head += [f"{n}/{_baseline_of_cell(w, n)} [min–max]" for n in others]
    rows = [head]
    for row in w["scaling"]:
        cells = [f"  {row['k']}"]
        for n in names:
            v = row["variants"].get(n)
            if v is None:
                cells += ["-", "-"]
            else:
                cells += [METRICS["seconds"][1](v["seconds"]["median"]),
                          METRICS["speedup"][1](v["speedup"]["median"])]
        cells += [_fmt_ratio(row["ratio"][n]) if n in row["ratio"] else "-" for n in others]
        rows.append(cells)
    return _table(rows)


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
    """'≤ 5 µs: met' or '≥ 20×: not met' for TARGET_LOOP's cell of a workload with its
    own target; "" when there is no target or no figure to judge."""
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


def markdown(report, command, images=()):
    """RESULTS.md: the run's summary as one Markdown table (a row per workload,
    a column per loop; for echo and HTTP the server's CPU µs per request, then
    the ratio to asyncio; for micro the ratio), the images given (paths as the
    Markdown file should link them: the --plot charts), then the full text report."""
    meta = report["meta"]
    shared = [w for w in report["workloads"] if "columns" not in w]
    own = [w for w in report["workloads"] if "columns" in w]
    loops = list(dict.fromkeys(name for w in shared for name in w["cells"]))
    lines = [
        "# aioloop benchmark results",
        "",
        f"{meta['date']} · {meta['python']} · {meta['platform']} · {meta['cpus']} CPUs ({meta['cpu_model']})",
        "",
        f"Generated by `{command}`; rerun it to regenerate this file.",
        "",
    ]
    if shared:
        lines += [f"| workload | " + " | ".join(loops) + f" | target ({TARGET_LOOP}) |",
                  "|---|" + "---|" * (len(loops) + 1)]
    for w in shared:
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
    if own:
        lines += ["", *_markdown_own(own, meta)]
    for path in images:
        alt = "speed-up against threads" if ".scaling." in os.path.basename(path) else "ratios to the baselines"
        lines += ["", f"![{alt}]({path})"]
    if report["failures"]:
        lines += ["", "Failed cells are listed with their errors at the end of the report below."]
    lines += ["", "```", render(report).rstrip("\n"), "```", ""]
    return "\n".join(lines)


def _md_cell(w, name, cell):
    if cell["status"] == "skipped":
        return "skipped"
    if cell["status"] in ("failed", "not run"):
        return cell["status"]
    ratio = "1" if name == _baseline_of_cell(w, name) else _fmt_ratio(cell["ratio"]) if cell["ratio"] else "n/a"
    value = _fmt_value(w["primary"], cell["metrics"][w["primary"]], cell["rounds_ok"])
    text = f"{value} ({ratio})"
    if cell["status"] == "partial":
        text += f" ({cell['rounds_failed']} rounds failed)"
    return text


def _markdown_own(ws, meta):
    """The multicore section of RESULTS.md: per workload its primary figure and ratio
    to its own baseline, for every variant; then the scaling table."""
    lines = ["## Multi-core",
             "",
             f"{meta.get('python', '?')}, {meta.get('python_build', 'default')} build, GIL "
             f"{meta.get('gil', 'on')}; {meta.get('cpus')} CPUs. Each cell: the figure "
             "(× the workload's baseline, median [min–max] over rounds).",
             *(line.strip() for line in _builds_legend(meta)),
             *(line.strip() for line in _gil_note(ws, meta)),
             "",
             "| workload | figure | baseline | variants |",
             "|---|---|---|---|"]
    for w in ws:
        variants = "; ".join(f"**{n}** {_md_cell(w, n, c)}" for n, c in w["cells"].items())
        lines.append(f"| {w['title']} | {METRICS[w['primary']][0]} | {w['baseline']} | {variants} |")
    for w in ws:
        if not w.get("scaling"):
            continue
        names = list(w["cells"])
        others = [n for n in names if n != _baseline_of_cell(w, n)]
        lines += ["", f"{w['title'].split(':')[0]}: speed-up over k=1 of the same variant "
                      f"(time), and the ratio of speed-ups in the same round.", "",
                  "| k | " + " | ".join(names) + " | " +
                  " | ".join(f"{n} / {_baseline_of_cell(w, n)}" for n in others) + " |",
                  "|---|" + "---|" * (len(names) + len(others))]
        for row in w["scaling"]:
            cells = []
            for n in names:
                v = row["variants"].get(n)
                cells.append("-" if v is None else
                             f"{METRICS['speedup'][1](v['speedup']['median'])} "
                             f"({METRICS['seconds'][1](v['seconds']['median'])})")
            cells += [_fmt_ratio(row["ratio"][n]) if n in row["ratio"] else "-" for n in others]
            lines.append(f"| {row['k']} | " + " | ".join(cells) + " |")
        rows = model_rows(w, meta)
        if rows:
            keys = list(rows[0][3])
            lines += ["", "What limits the speed-up (the model in benchmarks/README.md): per-task costs in "
                          "µs measured by the aioloop rows, and the speed-ups they predict.", "",
                      "| build | spawn (serial) | GC (serial when free-threaded) | other (parallel) | "
                      + " | ".join(f"k={k}, {t:g} µs tasks" for t, k in keys) + " |",
                      "|---|" + "---|" * (3 + len(keys))]
            for build, free, inputs, preds in rows:
                lines.append(f"| {build} | {inputs['spawn']:.2f} | {inputs['gc']:.2f} | {inputs['other']:.2f} | "
                             + " | ".join(f"{v:.1f}×" for v in preds.values()) + " |")
    return lines


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


def write_markdown(path, report, command, images=()):
    """Write markdown(report, command) to path, keeping the preserved tail of the file
    already there (see PRESERVED_HEADING); `images` (files written by --plot) are
    linked relative to the Markdown file's directory."""
    try:
        with open(path, encoding="utf-8") as f:
            tail = preserved_tail(f.read())
    except FileNotFoundError:
        tail = ""
    here = os.path.dirname(os.path.abspath(path))
    text = markdown(report, command, [os.path.relpath(os.path.abspath(p), here).replace(os.sep, "/")
                                      for p in images])
    if tail:
        text = text.rstrip("\n") + "\n\n" + tail
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
