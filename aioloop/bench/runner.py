"""The run: rounds of interleaved cells, each measured in fresh processes.

A cell is one workload under one loop in one round.  Within a round every
workload runs under each loop back to back, the loops in an order rotated by
one each round (A B C, then B C A, then C A B ...), so a slow drift of the
machine (another tenant, a thermal limit) lands on every loop alike; the ratio
to asyncio is then taken within the round, where the conditions were shared.
A failing cell is recorded with its error and the run goes on.
"""

from dataclasses import dataclass, field

from . import echo, http, micro, multicore
from .model import CellError, LoopSpec, Settings, Workload

SUITES = {"echo": echo, "http": http, "micro": micro, "multicore": multicore}


@dataclass
class Plan:
    """What to run: the workloads, the loops, how many rounds, and how."""

    workloads: list[Workload]
    loops: list[LoopSpec]
    rounds: int
    settings: Settings
    skipped: dict[str, str] = field(default_factory=dict)  # suite -> why it cannot run here

    def loops_for(self, workload):
        """The loops that apply to `workload`: the C reference only where it is native;
        a suite with variants of its own (multicore) names them itself."""
        suite = SUITES[workload.suite]
        if hasattr(suite, "variants"):
            return suite.variants(workload, self.loops)
        return [lp for lp in self.loops if workload.native or not lp.native]

    def cells(self, round_index):
        """(workload, loop) pairs of one round, in the order they run."""
        for w in self.workloads:
            if w.suite in self.skipped:
                continue
            loops = self.loops_for(w)
            k = round_index % len(loops)
            for lp in loops[k:] + loops[:k]:
                yield w, lp

    def total_cells(self):
        return sum(1 for r in range(self.rounds) for _ in self.cells(r))


@dataclass
class Record:
    """The outcome of one cell."""

    round: int
    workload: str
    loop: str
    metrics: dict | None = None
    error: str | None = None

    @property
    def ok(self):
        return self.error is None


def run_cell(plan, workload, loop):
    """Measure one cell: (metrics, None, False) or (None, error, fatal).
    Never raises except KeyboardInterrupt."""
    try:
        return SUITES[workload.suite].measure(workload, loop, plan.settings), None, False
    except CellError as e:
        return None, str(e), e.fatal
    except Exception as e:  # a bug in the bench itself: still only this cell's failure
        return None, f"bench error: {type(e).__name__}: {e}", False


def run(plan, progress):
    """Run every round; returns the list of Records (the ones done so far if
    interrupted by Ctrl-C, with ``interrupted`` set on the list)."""
    records = _Records()
    given_up = {}  # (workload id, loop name) -> the error that made retrying pointless
    progress.start(plan.total_cells())
    try:
        for r in range(plan.rounds):
            for w, lp in plan.cells(r):
                progress.step(f"round {r + 1}/{plan.rounds} · {w.title} · {lp.name}")
                key = (w.id, lp.name)
                if key in given_up:
                    records.append(Record(r, w.id, lp.name, error=given_up[key]))
                    continue
                metrics, error, fatal = run_cell(plan, w, lp)
                if fatal:
                    given_up[key] = f"{error} (in an earlier round; not retried)"
                records.append(Record(r, w.id, lp.name, metrics, error))
    except KeyboardInterrupt:
        records.interrupted = True
    finally:
        progress.finish()
    return records


class _Records(list):
    interrupted = False
