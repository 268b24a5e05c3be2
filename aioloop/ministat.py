"""ministat: are these samples different?  A port of FreeBSD's ministat(1).

    python -m aioloop.ministat [-C column] [-c confidence] [-d delimiters] [-A] [-n] [-s] [-w width]
                               [file ...]

Reads one number a line from each file (standard input when none is given;
lines whose field starts with ``#`` are skipped), prints an ASCII plot of the
samples, then for each: N, min, max, median, average and standard deviation.
Every sample after the first is compared with the first by Student's t-test
(pooled variance): either "No difference proven at C% confidence", or
"Difference at C% confidence" with the difference of the averages ± its
confidence interval, the same relative to the first sample's average, and the
pooled standard deviation.  libaio shipped this tool to judge an optimisation
from repeated benchmark runs; ``python -m aioloop bench --samples DIR`` writes
its input files.

Where this port differs from the C original, on purpose:

- The t quantile is computed (regularised incomplete beta function, then
  bisection) instead of looked up in a table, so any degree of freedom is exact
  (the table stops at 100 and uses the normal quantile beyond) and ``-c`` takes
  any level between 0 and 100, not only 80, 90, 95, 98, 99 and 99.5.
- The original table's 99.5 column holds the values for 99.8 % (the one-sided
  0.999 quantile: 318.313 for one degree of freedom, where 99.5 % needs
  127.321); here ``-c 99.5`` means 99.5 %.
"""

import math
import os
import re
import sys

CONFIDENCES = (80, 90, 95, 98, 99, 99.5)  # the levels the original accepts
SYMBOLS = " x+*%#@O"                      # plot marks; a cell hit by samples 1 and 2 shows '*' (1|2)
MAX_DATASETS = len(SYMBOLS) - 1


# --- Student's t distribution -------------------------------------------------------------

def _betacf(a, b, x):
    """Continued fraction of the incomplete beta function (modified Lentz's method)."""
    tiny, eps = 1e-300, 1e-15
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def incomplete_beta(a, b, x):
    """The regularised incomplete beta function I_x(a, b), for a, b > 0 and 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    # The continued fraction converges fast for x < (a+1)/(a+b+2); use the symmetry otherwise.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t, df):
    """P(T <= t) for Student's t with `df` degrees of freedom (df > 0, not necessarily whole)."""
    tail = 0.5 * incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p, df):
    """The t such that P(T <= t) = p, for 0 < p < 1 (bisection: 200 halvings of a bracket)."""
    if not 0.0 < p < 1.0:
        raise ValueError("p must be between 0 and 1")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-13 * hi:
            break
    return (lo + hi) / 2.0


def student_t(confidence, df):
    """The two-sided critical value of Student's t at `confidence` per cent."""
    if not 0.0 < confidence < 100.0:
        raise ValueError("confidence must be between 0 and 100 (per cent)")
    return t_quantile(1.0 - (1.0 - confidence / 100.0) / 2.0, df)


# --- samples ------------------------------------------------------------------------------

class Dataset:
    """A sample: its points sorted, and the statistics ministat prints."""

    def __init__(self, name, points):
        if not points:
            raise ValueError(f"dataset {name} is empty")
        self.name = name
        self.points = sorted(points)
        self.n = len(self.points)
        # The original keeps running sums; math.fsum of squared deviations is exact-er.
        self.mean = math.fsum(self.points) / self.n

    @property
    def min(self):
        return self.points[0]

    @property
    def max(self):
        return self.points[-1]

    @property
    def median(self):
        mid = self.n // 2
        return self.points[mid] if self.n % 2 else (self.points[mid - 1] + self.points[mid]) / 2

    @property
    def var(self):
        """Sample variance (n - 1 in the denominator); 0 for a single point."""
        if self.n < 2:
            return 0.0
        return math.fsum((x - self.mean) ** 2 for x in self.points) / (self.n - 1)

    @property
    def stddev(self):
        return math.sqrt(self.var)


def read_dataset(lines, name, column=1, delimiters=" \t"):
    """A Dataset from text lines: field `column` (1-based) of each line, fields
    split on any run of `delimiters`.  Lines without that field, or whose field
    starts with '#', are skipped.  Raises ValueError naming the line of a
    field that is not a number."""
    split = re.compile("[" + re.escape(delimiters) + "]+")
    points = []
    for lineno, line in enumerate(lines, 1):
        fields = [f for f in split.split(line.rstrip()) if f]
        for i, f in enumerate(fields[:column], 1):
            if f.startswith("#"):
                break
            if i == column:
                try:
                    points.append(float(f))
                except ValueError:
                    raise ValueError(f"Invalid data on line {lineno} in {name}") from None
    return Dataset(name, points)


class Comparison:
    """Student's t-test of `ds` against the reference sample `rs`, as ministat prints it.

    difference = avg(ds) - avg(rs), ± error (the confidence interval's half
    width), both also relative to avg(rs) in per cent; significant when the
    interval excludes 0."""

    def __init__(self, ds, rs, confidence=95.0):
        self.confidence = confidence
        df = ds.n + rs.n - 2
        if df < 1:
            raise ValueError("a t-test needs at least 3 points in all")
        self.t = student_t(confidence, df)
        self.pooled_s = math.sqrt(((ds.n - 1) * ds.var + (rs.n - 1) * rs.var) / df)
        self.difference = ds.mean - rs.mean
        self.error = self.t * self.pooled_s * math.sqrt(1.0 / ds.n + 1.0 / rs.n)
        # The relative error as the original computes it: rs's variance scaled
        # into ds's units by (avg(ds)/avg(rs))^2, then pooled.
        re_var = ((ds.n - 1) * ds.var + (rs.n - 1) * rs.var * (ds.mean * ds.mean) / (rs.mean * rs.mean))
        re_var *= (ds.n + rs.n) / (ds.n * rs.n * (ds.n + rs.n - 2.0))
        self.relative_error_abs = self.t * math.sqrt(re_var)
        self.significant = abs(self.difference) > self.error
        self.relative = self.difference * 100.0 / rs.mean if rs.mean else math.nan
        self.relative_error = self.relative_error_abs * 100.0 / rs.mean if rs.mean else math.nan

    def lines(self):
        level = f"{self.confidence:.1f}%"
        if not self.significant:
            return [f"No difference proven at {level} confidence"]
        return [f"Difference at {level} confidence",
                f"\t{self.difference:g} +/- {self.error:g}",
                f"\t{self.relative:g}% +/- {self.relative_error:g}%",
                f"\t(Student's t, pooled s = {self.pooled_s:g})"]


# --- the plot -----------------------------------------------------------------------------

def plot(datasets, width=74, separate=False):
    """The ASCII plot as a list of lines: one row per stacked point, then the
    bar rows (|___| spans avg ± stddev, M the median, A the average)."""
    lo = min(min(ds.min, ds.mean - ds.stddev) for ds in datasets)
    hi = max(max(ds.max, ds.mean + ds.stddev) for ds in datasets)
    span = hi - lo
    if span == 0:
        return ["[no plot, span is zero width]"]
    dx = span / (width - 1.0)
    x0 = lo - 0.5 * dx

    def col(v):
        return min(width - 1, max(0, int((v - x0) / dx)))

    rows = []    # rows[j][x]: OR of dataset numbers with a j-th point stacked in column x
    bars = {}
    for number, ds in enumerate(datasets, 1):
        stack = {}
        for v in ds.points:
            x = col(v)
            stack[x] = stack.get(x, 0) + 1
            while len(rows) < stack[x]:
                rows.append([0] * width)
            rows[stack[x] - 1][x] |= number
        bar = bars.setdefault(number if separate else 1, [" "] * width)
        if ds.n > 1:
            left, right = col(ds.mean - ds.stddev), col(ds.mean + ds.stddev)
            for i in range(left + 1, right):
                if bar[i] == " ":
                    bar[i] = "_"
            bar[left] = bar[right] = "|"
        bar[col(ds.median)] = "M"
        bar[col(ds.mean)] = "A"
    edge = "+" + "-" * width + "+"
    out = [edge]
    for row in reversed(rows):
        out.append("|" + "".join(SYMBOLS[k] if k < len(SYMBOLS) else f"[{k:02x}]" for k in row) + "|")
    for key in sorted(bars):
        out.append("|" + "".join(bars[key]) + "|")
    out.append(edge)
    return out


def vitals_header():
    return "    N           Min           Max        Median           Avg        Stddev"


def vitals(ds, number):
    return (f"{SYMBOLS[number]} {ds.n:3d} {ds.min:13.8g} {ds.max:13.8g} {ds.median:13.8g} "
            f"{ds.mean:13.8g} {ds.stddev:13.8g}")


def report(datasets, confidence=95.0, width=74, show_plot=True, test=True, separate=False):
    """The whole ministat output for these datasets, as one string."""
    lines = [f"{SYMBOLS[i]} {ds.name}" for i, ds in enumerate(datasets, 1)]
    if show_plot and test:
        lines += plot(datasets, width, separate)
    lines.append(vitals_header())
    lines.append(vitals(datasets[0], 1))
    for i, ds in enumerate(datasets[1:], 2):
        lines.append(vitals(ds, i))
        if test:
            lines += Comparison(ds, datasets[0], confidence).lines()
    return "\n".join(lines) + "\n"


# --- the command --------------------------------------------------------------------------

DESCRIPTION = ("ministat: summary statistics (N, min, max, median, average, standard deviation)\n"
               "of a column of numbers in each file, and Student's t comparison of every data\n"
               "set with the first: a port of FreeBSD's ministat(1).\n")

USAGE = ("usage: python -m aioloop.ministat [-C column] [-c confidence] [-d delimiter(s)] [-Ans] "
         "[-w width] [file [file ...]]\n"
         f"\tconfidence = any level between 0 and 100; classic: {', '.join(f'{c:g}%' for c in CONFIDENCES)}\n"
         "\t-A : print statistics only. suppress the graph.\n"
         "\t-C : column number to extract (starts and defaults to 1)\n"
         "\t-d : delimiter(s) string, default to \" \\t\"\n"
         "\t-h, --help : print this help\n"
         "\t-n : print summary statistics only, no graph/test\n"
         "\t-s : print avg/median/stddev bars on separate lines\n"
         "\t-w : width of graph/test output (default 74 or terminal width)\n")


def _usage(whine):
    sys.stderr.write(f"{whine}\n{USAGE}")
    return 2


def _terminal_width():
    if not sys.stdout.isatty():
        return 74
    if os.environ.get("COLUMNS"):
        try:
            return int(os.environ["COLUMNS"])
        except ValueError:
            pass
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns - 2
    except OSError:
        return 74


def _options(argv):
    """getopt-style parsing ("AC:c:d:hsnw:"), so `-c95` and `-c 95` both work;
    -h and --help ask for the help, whatever else is there."""
    opts, i = {}, 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if not arg.startswith("-") or arg == "-":
            break
        if arg.startswith("--"):
            if arg != "--help":
                raise ValueError(f"Unknown option: {arg}")
            return {"h": True}, []
        j = 1
        while j < len(arg):
            flag = arg[j]
            if flag == "h":
                return {"h": True}, []          # help wins, as with argparse
            if flag in "Asn":
                opts[flag] = True
                j += 1
            elif flag in "Ccdw":
                value = arg[j + 1:]
                if not value:
                    i += 1
                    if i >= len(argv):
                        raise ValueError(f"option -{flag} requires an argument")
                    value = argv[i]
                opts[flag] = value
                break
            else:
                raise ValueError(f"Unknown option: -{flag}")
        i += 1
    return opts, argv[i:]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    try:
        opts, files = _options(argv)
    except ValueError as e:
        return _usage(str(e))
    if opts.get("h"):
        sys.stdout.write(f"{DESCRIPTION}\n{USAGE}")
        return 0
    try:
        column = int(opts.get("C", 1))
    except ValueError:
        return _usage("Invalid column number.")
    if column <= 0:
        return _usage("Column number should be positive.")
    try:
        confidence = float(opts.get("c", 95))
    except ValueError:
        return _usage("Not a floating point number")
    if not 0 < confidence < 100:
        return _usage("No support for confidence level")
    delimiters = opts.get("d", " \t")
    if not delimiters:
        return _usage("Can't use empty delimiter string")
    try:
        width = int(opts["w"]) if "w" in opts else _terminal_width()
    except ValueError:
        return _usage("Invalid width, not a number.")
    if width <= 0:
        return _usage("Unable to move beyond left margin.")
    if len(files) > MAX_DATASETS:
        return _usage("Too many datasets.")

    datasets = []
    for name in files or ["-"]:
        try:
            if name == "-":
                ds = read_dataset(sys.stdin, "<stdin>", column, delimiters)
            else:
                with open(name) as f:
                    ds = read_dataset(f, name, column, delimiters)
        except OSError as e:
            sys.stderr.write(f"ministat: Cannot open {name}: {e.strerror}\n")
            return 2
        except ValueError as e:
            sys.stderr.write(f"ministat: {e}\n")
            return 2
        if ds.n < 3:
            sys.stderr.write(f"Dataset {ds.name} must contain at least 3 data points\n")
            return 2
        datasets.append(ds)
    sys.stdout.write(report(datasets, confidence, width, show_plot=not opts.get("A"),
                            test=not opts.get("n"), separate=bool(opts.get("s"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
