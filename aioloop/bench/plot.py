"""--plot FILE.png: the ratios to asyncio as a bar chart with min–max error bars, and,
when the multicore suite's CPU workload ran, FILE.scaling.png: speed-up over one
thread against the number of threads.

matplotlib is an optional dependency (``pip install aioloop[plot]``); without
it the bench says so and writes no picture."""

import os

from .loops import BASELINE


def write(report, path):
    """Write the ratio chart to `path` and, when there is a scaling table, the scaling
    plot beside it; returns the paths written."""
    import matplotlib
    matplotlib.use("Agg")
    written = [path]
    write_ratios(report, path)
    scaled = [w for w in report["workloads"] if w.get("scaling")]
    if scaled:
        root, ext = os.path.splitext(str(path))
        spath = f"{root}.scaling{ext or '.png'}"
        write_scaling(report, scaled[0], spath)
        written.append(spath)
    return written


def write_scaling(report, workload, path):
    """Threads on x, speed-up over k=1 on y (median over rounds, bars min–max), one
    line per (variant, build), and the ideal min(k, CPUs) as a dashed line."""
    import matplotlib.pyplot as plt

    rows = workload["scaling"]
    ks = [r["k"] for r in rows]
    meta = report["meta"]
    builds = meta.get("builds") or {}
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for name in workload["cells"]:
        pts = [(r["k"], r["variants"][name]["speedup"]) for r in rows if name in r["variants"]]
        if not pts:
            continue
        xs = [k for k, _ in pts]
        ys = [s["median"] for _, s in pts]
        err = [[s["median"] - s["min"] for _, s in pts], [s["max"] - s["median"] for _, s in pts]]
        # with other builds' rows beside them, this interpreter's rows say which build they are
        label = f"{name} [{meta['build_tag']}]" if builds and "[" not in name and meta.get("build_tag") else name
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=label)
    cpus = report["meta"].get("cpus") or max(ks)
    ax.plot(ks, [min(k, cpus) for k in ks], color="grey", linestyle="--", linewidth=0.8,
            label=f"ideal ({cpus} CPUs)")
    if max(ks) >= 8:    # --max-threads: 1 2 3 4 8 16 spread evenly
        ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("threads (k)")
    ax.set_ylabel("speed-up over k=1")
    build = f", {meta['python_build']} build, GIL {meta['gil']}" if "python_build" in meta else ""
    title = f"{workload['title'].split(':')[0]} · {meta['python']}{build}"
    for name, b in builds.items():
        title += f"\n[{name}]: {b['version']}, {b['python_build']} build, GIL {b['gil']}"
    ax.set_title(title, fontsize=8)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_ratios(report, path):
    """Draw one group of bars per workload, one bar per loop (asyncio is the
    dashed line at 1); failed cells are marked "failed" where their bar would be."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w for w in report["workloads"] if not w["skipped"]]
    loops = []  # the bars are ratios to each workload's own baseline (asyncio but for multicore's)
    for w in workloads:
        for name in w["cells"]:
            if name != w.get("baseline", BASELINE) and name not in loops:
                loops.append(name)
    height = 0.8 / max(1, len(loops))
    fig, ax = plt.subplots(figsize=(10, 1.2 + 0.22 * len(workloads) * max(1, len(loops))))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for i, loop in enumerate(loops):
        ys, xs, lo, hi = [], [], [], []
        for j, w in enumerate(workloads):
            cell = w["cells"].get(loop)
            y = j - 0.4 + height * (i + 0.5)
            if cell is None:
                continue
            if cell.get("ratio"):
                r = cell["ratio"]
                ys.append(y)
                xs.append(r["median"])
                lo.append(r["median"] - r["min"])
                hi.append(r["max"] - r["median"])
            elif cell.get("status") in ("failed", "partial"):
                ax.text(0.02, y, f"{loop}: failed", va="center", fontsize=7, color="firebrick",
                        transform=ax.get_yaxis_transform())
        ax.barh(ys, xs, height=height * 0.9, xerr=[lo, hi], capsize=2, label=loop,
                color=colors[i % len(colors)], error_kw={"elinewidth": 0.8})
    ax.axvline(1.0, color="black", linestyle="--", linewidth=0.8, label=f"{BASELINE} = 1")
    ax.set_yticks(range(len(workloads)), [w["title"] for w in workloads], fontsize=8)
    ax.invert_yaxis()
    meta = report["meta"]
    ax.set_xlabel(f"× {BASELINE} (median of {meta['rounds']} round(s), bars: min–max); higher is better")
    ax.set_title(f"aioloop bench · {meta['date']} · {meta['python']}", fontsize=10)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
