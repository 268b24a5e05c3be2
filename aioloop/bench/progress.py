"""Progress while the bench runs: rich or tqdm when installed and stderr is a
terminal, plain lines otherwise, nothing with ``--progress none``.  Progress
goes to stderr so that stdout carries only the report."""

import sys
import time


class PlainProgress:
    """One line per cell: ``[ 3/40  0:12] round 1/5 · protocol echo 1 KiB · uvloop``."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stderr
        self.total = self.done = 0

    def start(self, total):
        self.total, self.done, self.t0 = total, 0, time.monotonic()

    def step(self, label):
        self.done += 1
        elapsed = int(time.monotonic() - self.t0)
        width = len(str(self.total))
        self.stream.write(f"[{self.done:>{width}}/{self.total} {elapsed // 60}:{elapsed % 60:02d}] {label}\n")
        self.stream.flush()

    def finish(self):
        pass


class NoProgress:
    def start(self, total):
        pass

    def step(self, label):
        pass

    def finish(self):
        pass


class RichProgress:
    def __init__(self):
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
        self._progress = Progress(TextColumn("bench"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), TextColumn("{task.description}"),
                                  console=Console(stderr=True), transient=True)
        self._task = None
        self._started = False

    def start(self, total):
        self._progress.start()
        self._task = self._progress.add_task("", total=total)

    def step(self, label):
        # count the cell before this one as done; the label names the one starting now
        if self._started:
            self._progress.advance(self._task)
        self._started = True
        self._progress.update(self._task, description=label)

    def finish(self):
        self._progress.stop()


class TqdmProgress:
    def __init__(self):
        import tqdm
        self._tqdm = tqdm.tqdm
        self._bar = None
        self._started = False

    def start(self, total):
        self._bar = self._tqdm(total=total, file=sys.stderr, leave=False, dynamic_ncols=True)

    def step(self, label):
        # count the cell before this one as done; the label names the one starting now
        if self._started:
            self._bar.update(1)
        self._started = True
        self._bar.set_description_str(label)

    def finish(self):
        if self._started:
            self._bar.update(1)
        self._bar.close()


def make(kind="auto"):
    """A progress reporter: kind is auto, rich, tqdm, plain or none."""
    if kind == "none":
        return NoProgress()
    if kind == "auto" and not sys.stderr.isatty():
        return PlainProgress()
    for name, cls in (("rich", RichProgress), ("tqdm", TqdmProgress)):
        if kind in ("auto", name):
            try:
                return cls()
            except ImportError:
                if kind == name:
                    raise
    return PlainProgress()
