"""--plot FILE.png: the ratios to asyncio as a bar chart with min–max error bars.

matplotlib is an optional dependency (``pip install aioloop[plot]``); without
it the bench says so and writes no picture."""

from .loops import BASELINE


def write(report, path):
    """Draw one group of bars per workload, one bar per loop (asyncio is the
    dashed line at 1); failed cells are marked "failed" where their bar would be."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    workloads = [w for w in report["workloads"] if not w["skipped"]]
    loops = []
    for w in workloads:
        for name in w["cells"]:
            if name != BASELINE and name not in loops:
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
