"""ministat's statistics against values derived by hand or in closed form.

The expected numbers are worked out in the comments (or are textbook
t-table entries), not copied from the code's own output."""

import math
import statistics

import pytest

from aioloop import ministat
from aioloop.ministat import Comparison, Dataset, incomplete_beta, read_dataset, student_t, t_quantile

# Two-sided critical values of Student's t from the classic printed table
# (the one FreeBSD's ministat embeds), 3 decimals; columns 80 90 95 98 99 %.
T_TABLE = {
    1: (3.078, 6.314, 12.706, 31.821, 63.657),
    2: (1.886, 2.920, 4.303, 6.965, 9.925),
    3: (1.638, 2.353, 3.182, 4.541, 5.841),
    5: (1.476, 2.015, 2.571, 3.365, 4.032),
    8: (1.397, 1.860, 2.306, 2.896, 3.355),
    10: (1.372, 1.812, 2.228, 2.764, 3.169),
    20: (1.325, 1.725, 2.086, 2.528, 2.845),
    30: (1.310, 1.697, 2.042, 2.457, 2.750),
    60: (1.296, 1.671, 2.000, 2.390, 2.660),
    100: (1.290, 1.660, 1.984, 2.364, 2.626),
}
# FreeBSD's column labelled 99.5 holds one-sided 0.999 quantiles, i.e. 99.8 % two-sided.
T_TABLE_998 = {1: 318.313, 2: 22.327, 5: 5.893, 10: 4.143, 30: 3.385, 100: 3.174}


@pytest.mark.parametrize("df", sorted(T_TABLE))
def test_t_critical_values_match_the_printed_table(df):
    for conf, expected in zip((80, 90, 95, 98, 99), T_TABLE[df]):
        assert student_t(conf, df) == pytest.approx(expected, abs=0.0011)


@pytest.mark.parametrize("df", sorted(T_TABLE_998))
def test_freebsd_995_column_is_really_998_percent(df):
    assert student_t(99.8, df) == pytest.approx(T_TABLE_998[df], rel=5e-4)
    assert student_t(99.5, df) < T_TABLE_998[df]


@pytest.mark.parametrize("p", [0.6, 0.9, 0.95, 0.975, 0.99, 0.9975, 0.999])
def test_t_quantile_closed_forms(p):
    # df = 1 is the Cauchy distribution: F^-1(p) = tan(pi (p - 1/2)).
    assert t_quantile(p, 1) == pytest.approx(math.tan(math.pi * (p - 0.5)), rel=1e-9)
    # df = 2: F(t) = 1/2 + t / (2 sqrt(2 + t^2)), so with u = 2p - 1, t = u sqrt(2 / (1 - u^2)).
    u = 2 * p - 1
    assert t_quantile(p, 2) == pytest.approx(u * math.sqrt(2 / (1 - u * u)), rel=1e-9)
    # df -> infinity: the normal distribution.
    assert t_quantile(p, 1e7) == pytest.approx(statistics.NormalDist().inv_cdf(p), rel=1e-5)
    # symmetry
    assert t_quantile(1 - p, 7) == pytest.approx(-t_quantile(p, 7), rel=1e-12)


def test_t_quantile_995_for_one_degree_of_freedom():
    # tan(pi * 0.4975) = 127.3213..., not the 318.3 printed in the 99.5 column of the old table
    assert student_t(99.5, 1) == pytest.approx(127.3213, abs=1e-3)


@pytest.mark.parametrize("x", [0.0, 0.1, 0.37, 0.5, 0.92, 1.0])
def test_incomplete_beta_closed_forms(x):
    assert incomplete_beta(1, 1, x) == pytest.approx(x, abs=1e-12)
    assert incomplete_beta(3, 1, x) == pytest.approx(x ** 3, abs=1e-12)
    assert incomplete_beta(1, 4, x) == pytest.approx(1 - (1 - x) ** 4, abs=1e-12)
    assert incomplete_beta(2.5, 0.5, x) == pytest.approx(1 - incomplete_beta(0.5, 2.5, 1 - x), abs=1e-12)


def test_bad_confidence_is_refused():
    with pytest.raises(ValueError):
        student_t(100, 5)
    with pytest.raises(ValueError):
        t_quantile(1.0, 5)


IGUANA = [50, 200, 150, 400, 750, 400, 150]
CHAMELEON = [150, 400, 720, 500, 930]


def test_summary_statistics_by_hand():
    ds = Dataset("iguana", IGUANA)
    # sum 2100 / 7 = 300; squared deviations 62500+10000+22500+10000+202500+10000+22500 = 340000
    assert (ds.n, ds.min, ds.max, ds.median, ds.mean) == (7, 50, 750, 200, 300)
    assert ds.var == pytest.approx(340000 / 6)
    assert ds.stddev == pytest.approx(238.04761, abs=1e-5)
    c = Dataset("chameleon", CHAMELEON)
    # mean 540; deviations -390 -140 180 -40 390 -> 357800 / 4 = 89450
    assert (c.median, c.mean, c.var) == (500, 540, pytest.approx(89450))
    assert Dataset("even", [4, 1, 3, 2]).median == 2.5


def test_t_test_difference_not_proven_at_95_but_at_80():
    ig, ch = Dataset("iguana", IGUANA), Dataset("chameleon", CHAMELEON)
    # pooled s = sqrt((340000 + 357800) / 10) = sqrt(69780) = 264.1590
    # half-width = t(df 10) * 264.1590 * sqrt(1/5 + 1/7) = t * 154.6763
    at95 = Comparison(ch, ig, 95)
    assert at95.pooled_s == pytest.approx(264.1590, abs=1e-4)
    assert at95.error == pytest.approx(2.2281 * 154.6763, rel=1e-4)  # 344.6 > 240
    assert not at95.significant
    assert at95.lines() == ["No difference proven at 95.0% confidence"]

    at80 = Comparison(ch, ig, 80)
    assert at80.significant
    assert at80.difference == 240
    assert at80.error == pytest.approx(1.37218 * 154.6763, rel=1e-4)  # 212.24 < 240
    assert at80.relative == pytest.approx(80.0)
    # relative error, ministat's formula: t * sqrt((4*89450 + 6*(340000/6)*(540/300)^2) * 12/(5*7*10)) / 300
    #   = 1.37218 * sqrt(1459400 * 12/350) / 300 = 1.37218 * 223.689 / 300 = 102.31 %
    assert at80.relative_error == pytest.approx(102.31, abs=0.01)


def test_t_test_clear_difference_and_its_output():
    a, b = Dataset("a", [1, 2, 3, 4, 5]), Dataset("b", [11, 12, 13, 14, 15])
    cmp = Comparison(b, a, 95)
    # var 2.5 each, pooled s = sqrt(2.5) = 1.58114; s * sqrt(2/5) = 1 exactly, so error = t(95, 8) = 2.306
    assert cmp.error == pytest.approx(2.306004, abs=1e-5)
    assert cmp.relative == pytest.approx(1000 / 3)
    # (4*2.5 + 4*2.5*(13/3)^2) * 10/(25*8) = 9.88889; 2.306004 * sqrt(9.88889) / 3 * 100 = 241.72 %
    assert cmp.relative_error == pytest.approx(241.72, abs=0.01)
    assert ministat.report([a, b], 95, show_plot=False) == (
        "x a\n"
        "+ b\n"
        "    N           Min           Max        Median           Avg        Stddev\n"
        "x   5             1             5             3             3     1.5811388\n"
        "+   5            11            15            13            13     1.5811388\n"
        "Difference at 95.0% confidence\n"
        "\t10 +/- 2.306\n"
        "\t333.333% +/- 241.72%\n"
        "\t(Student's t, pooled s = 1.58114)\n")


def test_plot_shape():
    a, b = Dataset("a", [1, 2, 2, 3]), Dataset("b", [3, 4, 8])  # b: median 4, average 5
    lines = ministat.plot([a, b], width=30)
    assert lines[0] == lines[-1] == "+" + "-" * 30 + "+"
    assert all(len(line) == 32 and line[0] in "|+" and line[-1] in "|+" for line in lines)
    body = "".join(lines[1:-2])
    assert body.count("x") + body.count("*") == 4  # 1, 2 twice (stacked), and 3 shared with b
    assert "*" in body  # 3 is in both samples: marks 1|2 = '*'
    assert len(lines) == 2 + 2 + 1  # edges, two stacked rows (the double 2), one bar row
    assert set("AM|_") <= set(lines[-2])
    assert len(ministat.plot([a, b], width=30, separate=True)) == 6
    assert ministat.plot([Dataset("c", [7, 7, 7])]) == ["[no plot, span is zero width]"]


def test_read_dataset_skips_comments_and_picks_columns():
    lines = ["# header", "1 10", "2\t20  # trailing", "", "#3 30", "4 40 x"]
    assert read_dataset(lines, "f").points == [1, 2, 4]
    assert read_dataset(lines, "f", column=2).points == [10, 20, 40]
    assert read_dataset(["1,5", "2,,6"], "f", column=2, delimiters=",").points == [5, 6]
    with pytest.raises(ValueError, match="line 2 in f"):
        read_dataset(["1", "two"], "f")


def test_command_line(tmp_path, capsys):
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("1\n2\n3\n4\n5\n")
    b.write_text("11\n12\n13\n14\n15\n")
    assert ministat.main(["-c", "99", "-w", "40", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "Difference at 99.0% confidence" in out
    assert "+" + "-" * 40 + "+" in out
    assert ministat.main(["-n", str(a), str(b)]) == 0
    out = capsys.readouterr().out
    assert "confidence" not in out and "+ " in out

    short = tmp_path / "short.txt"
    short.write_text("1\n2\n")
    assert ministat.main([str(a), str(short)]) == 2
    assert "at least 3 data points" in capsys.readouterr().err
    assert ministat.main(["-c", "100", str(a)]) == 2
    assert ministat.main(["-q", str(a)]) == 2
    assert ministat.main([str(tmp_path / "missing.txt")]) == 2


def _ministat(*args):
    import subprocess
    import sys
    return subprocess.run([sys.executable, "-m", "aioloop.ministat", *args],
                          capture_output=True, text=True, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help_says_what_the_tool_does_and_shows_the_usage_once(flag):
    proc = _ministat(flag)
    assert proc.returncode == 0
    assert proc.stderr == ""
    out = proc.stdout
    assert out.startswith("ministat: summary statistics")
    assert "Student's t comparison" in out and "FreeBSD's ministat(1)" in out
    assert out.count("usage:") == 1
    assert out.count("python -m aioloop.ministat") == 1
    assert "-h, --help" in out


def test_help_wins_over_other_options_as_with_argparse():
    proc = _ministat("-n", "--help", "-x", "no-such-file")
    assert proc.returncode == 0 and proc.stdout.count("usage:") == 1


@pytest.mark.parametrize("args, named", [(["-x"], "-x"), (["-nx"], "-x"),
                                         (["--frobnicate", "f"], "--frobnicate")])
def test_an_unknown_option_names_itself_on_stderr_and_exits_2(args, named):
    # FreeBSD's ministat exits 2 from usage() (as argparse does on a bad option).
    proc = _ministat(*args)
    assert proc.returncode == 2
    assert proc.stdout == ""
    first, *rest = proc.stderr.splitlines()
    assert first == f"Unknown option: {named}"
    assert rest[0].startswith("usage: python -m aioloop.ministat")
    assert proc.stderr.count("usage:") == 1
