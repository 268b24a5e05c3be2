#!/usr/bin/env bash
# Build aioloop once per Python version and run the whole test suite on it.
#
#   bash tests/run.sh                 # 3.11, 3.12 and 3.13 (all required)
#   AIOLOOP_PYTHONS="3.12" bash tests/run.sh
#
# Each version gets its own virtualenv in .venv/pyX.Y with the test extras
# and an editable install (the extension is compiled in place as
# aioloop/_core.cpython-3XY-*.so, so versions do not clash). Exits non-zero
# if any version fails to build or any suite fails.
#
# After the unit tests, each version runs CPython's own test_asyncio on
# aioloop (tests/conformance, `run.py --check`: the loop-agnostic tests must
# pass or be listed expected failures; AIOLOOP_CONFORMANCE=0 skips it), then
# tests/integration/ (real applications on aioloop: aiohttp, websockets,
# uvicorn, anyio, pytest-asyncio) with the `integration` extra's packages
# installed; the unit run leaves that folder out so nothing runs twice.
#
# On one version (AIOLOOP_DEBUG_PYTHON, default 3.12; empty skips it) the unit
# suite and the conformance set then run once more in asyncio's debug mode
# (PYTHONASYNCIODEBUG=1): debug-only code paths (asyncio's methods bound to
# our loop read extra attributes there, callbacks are checked and timed) are
# exercised nowhere else. tests/bench is left out of that run: it tests the
# benchmark harness, whose subprocesses would only benchmark debug mode.
#
# On Python 3.12 only, the applications' own test suites then run on aioloop
# (tests/integration/app_suites.py: anyio's, and a loop-heavy part of
# aiohttp's, from their sdists, fetched with pip into ~/.cache/aioloop), with
# the `appsuites` extra installed; AIOLOOP_APPSUITES=0 skips the step, and
# AIOLOOP_APPSUITES_PYTHON picks another version.
#
# Then, on one version (3.12): the packaging check (tests/packaging.sh: sdist
# -> wheel -> fresh venv -> an example run from outside the tree) and the type
# stubs (tests/typing/check.sh: mypy --strict, pyright, stubtest).
#
# Last, a free-threaded CPython 3.13t: built once from Debian's source package
# by ../shared/tools/get_freethreaded_python.sh and cached outside the tree in
# ~/.cache/aioloop/py313t-<Debian version> (AIOLOOP_CACHE moves it;
# AIOLOOP_FT_PYTHON names an interpreter to use instead; AIOLOOP_FT=0 skips the
# step). aioloop is built there, importing it must leave the GIL off, and the
# unit suite (scheduler and stress tests included) runs with PYTHON_GIL=0.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pythons=${AIOLOOP_PYTHONS:-"3.11 3.12 3.13"}
debug_python=${AIOLOOP_DEBUG_PYTHON-3.12}

find_python() {
    local v=$1 p
    for p in "python$v" "$(command -v pyenv >/dev/null 2>&1 && pyenv root)/versions/$v"*/bin/python"$v"; do
        # Run the candidate, not just look it up: a pyenv shim exists for
        # every installed version but fails unless that version is selected.
        if [ -n "$p" ] && command -v "$p" >/dev/null 2>&1 && "$p" -c '' >/dev/null 2>&1; then
            command -v "$p"; return 0
        fi
    done
    return 1
}

status=0
summary=()

# CPython's own test_asyncio on aioloop (tests/conformance/README.md): fails
# on a selected test that is not a listed expected failure. Environment
# assignments before the call (PYTHONASYNCIODEBUG=1) reach the runner.
run_conformance() {
    local venv=$1 v=$2 log=$3 label=$4 rc line
    echo "=== Python $v: conformance${label:+ $label}"
    set +e
    timeout 1500 "$venv/bin/python" tests/conformance/run.py --check --quiet 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    set -e
    line=$(grep '^conformance ' "$log" | tail -n 1)
    summary+=("${line:-conformance $v: runner failed (exit $rc)}${label:+ ($label)}")
    [ $rc -eq 0 ] || status=1
}

# The packages of one optional extra of pyproject.toml, one per line (so
# they install without rebuilding aioloop itself).
extra_reqs() {
    "$1/bin/python" -c 'import sys, tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"][sys.argv[1]]))' "$2"
}

for v in $pythons; do
    py=$(find_python "$v") || { echo "error: Python $v not found (install it, or set AIOLOOP_PYTHONS)" >&2; exit 2; }
    venv="$root/.venv/py$v"
    echo "=== Python $v ($py)"
    [ -x "$venv/bin/python" ] || "$py" -m venv "$venv"
    "$venv/bin/python" -m pip install -q --upgrade pip
    "$venv/bin/python" -m pip install -q -e ".[test]"
    set +e
    "$venv/bin/python" -m pytest -q -p no:cacheprovider tests --ignore=tests/integration
    rc=$?
    set -e
    summary+=("Python $v: unit tests exit $rc")
    [ $rc -eq 0 ] || status=1

    if [ "${AIOLOOP_CONFORMANCE:-1}" != 0 ]; then
        run_conformance "$venv" "$v" "$venv/conformance.log" ""
    fi

    # Integration: install the extra's packages (read from pyproject.toml, so
    # aioloop itself is not rebuilt), then run with them required: a missing
    # one is an error, not a skip.
    echo "=== Python $v: integration (tests/integration)"
    mapfile -t integ_reqs < <(extra_reqs "$venv" integration)
    rm -f "$venv/integration.log"
    set +e
    "$venv/bin/python" -m pip install -q "${integ_reqs[@]}" &&
        AIOLOOP_INTEGRATION_REQUIRED=1 timeout 600 "$venv/bin/python" -m pytest -q -p no:cacheprovider \
            -rxX tests/integration 2>&1 | tee "$venv/integration.log"
    rc=${PIPESTATUS[0]}
    set -e
    last=$(grep -E '^=*\s*([0-9]+ [a-z]+.* in [0-9.]+s|no tests ran)' "$venv/integration.log" 2>/dev/null | tail -n1 | tr -d '=' | sed 's/^ *//; s/ *$//' || true)
    summary+=("Python $v: integration: ${last:-no summary} (exit $rc)")
    [ $rc -eq 0 ] || status=1

    # Debug mode, on one version only (see the top of this file).
    if [ "$v" = "$debug_python" ]; then
        echo "=== Python $v: unit tests in debug mode (PYTHONASYNCIODEBUG=1)"
        set +e
        PYTHONASYNCIODEBUG=1 "$venv/bin/python" -m pytest -q -p no:cacheprovider tests \
            --ignore=tests/integration --ignore=tests/bench
        rc=$?
        set -e
        summary+=("Python $v: unit tests in debug mode exit $rc")
        [ $rc -eq 0 ] || status=1
        if [ "${AIOLOOP_CONFORMANCE:-1}" != 0 ]; then
            PYTHONASYNCIODEBUG=1 run_conformance "$venv" "$v" "$venv/conformance-debug.log" "debug mode"
        fi
    fi

    # Application suites: anyio's and aiohttp's own tests on aioloop, one
    # Python only (their time is the budget); a failure, a suite that does
    # not finish or a missing package fails the run. The runner's last line
    # is the summary (counts per suite).
    if [ "${AIOLOOP_APPSUITES:-1}" != 0 ] && [ "$v" = "${AIOLOOP_APPSUITES_PYTHON:-3.12}" ]; then
        echo "=== Python $v: application suites (tests/integration/app_suites.py)"
        mapfile -t app_reqs < <(extra_reqs "$venv" appsuites)
        rm -f "$venv/appsuites.log"
        set +e
        "$venv/bin/python" -m pip install -q "${app_reqs[@]}" &&
            timeout 420 "$venv/bin/python" tests/integration/app_suites.py --timeout 300 2>&1 | tee "$venv/appsuites.log"
        rc=${PIPESTATUS[0]}
        set -e
        line=$(grep '^app suites on ' "$venv/appsuites.log" 2>/dev/null | tail -n1 || true)
        summary+=("Python $v: ${line:-app suites: runner failed} (exit $rc)")
        [ $rc -eq 0 ] || status=1
    fi
done

# Packaging: the sdist builds a wheel that installs into a fresh venv and runs
# an example from outside the tree (tests/packaging.sh), on one version.
if [ "${AIOLOOP_PACKAGING:-1}" != 0 ]; then
    pk_version=3.12
    case " $pythons " in *" $pk_version "*) ;; *) pk_version=${pythons%% *} ;; esac
    echo "=== Python $pk_version: packaging (tests/packaging.sh)"
    pk_log="$root/.venv/packaging.log"
    mkdir -p "$root/.venv"
    set +e
    bash tests/packaging.sh "$(find_python "$pk_version")" 2>&1 | tee "$pk_log"
    rc=${PIPESTATUS[0]}
    set -e
    summary+=("Python $pk_version: $(tail -n 1 "$pk_log") (exit $rc)")
    [ $rc -eq 0 ] || status=1

    # The stubs as a user's type checkers see them: mypy --strict, pyright and
    # stubtest against the extension built above (tests/typing/check.sh).
    echo "=== Python $pk_version: type stubs (tests/typing/check.sh)"
    ty_log="$root/.venv/typing.log"
    set +e
    bash tests/typing/check.sh "$(find_python "$pk_version")" 2>&1 | tee "$ty_log"
    rc=${PIPESTATUS[0]}
    set -e
    summary+=("Python $pk_version: type stubs: $(tail -n 1 "$ty_log") (exit $rc)")
    [ $rc -eq 0 ] || status=1
fi

# A cached 3.13t whose interpreter runs with the GIL off, or a fresh build
# moved into the cache under the Debian source version it was built from.
find_ft_python() {
    local cache=${AIOLOOP_CACHE:-$HOME/.cache/aioloop} p tmp ver
    if [ -n "${AIOLOOP_FT_PYTHON:-}" ]; then echo "$AIOLOOP_FT_PYTHON"; return 0; fi
    for p in $(ls -d "$cache"/py313t-*/bin/python3.13t 2>/dev/null | sort -V -r); do
        if "$p" -c 'import sys; sys.exit(sys._is_gil_enabled())' >/dev/null 2>&1; then
            echo "$p"; return 0
        fi
    done
    local tool="$root/../shared/tools/get_freethreaded_python.sh"
    [ -f "$tool" ] || { echo "error: $tool not found (set AIOLOOP_FT_PYTHON or AIOLOOP_FT=0)" >&2; return 1; }
    mkdir -p "$cache"
    tmp="$cache/py313t-building"
    rm -rf "$tmp"
    echo "building a free-threaded CPython 3.13t (once; cached in $cache)" >&2
    FT_WORK="$cache/ft-work" bash "$tool" "$tmp" > "$cache/ft-build.log" 2>&1 ||
        { tail -n 30 "$cache/ft-build.log" >&2; return 1; }
    ver=$(sed -n 's/.*got python3\.13 \([^ ]*\) .*/\1/p' "$cache/ft-build.log" | tail -n 1)
    rm -rf "$cache/ft-work" "$cache/py313t-${ver:-unknown}"
    mv "$tmp" "$cache/py313t-${ver:-unknown}"
    echo "$cache/py313t-${ver:-unknown}/bin/python3.13t"
}

if [ "${AIOLOOP_FT:-1}" != 0 ]; then
    echo "=== Python 3.13t (free-threaded, GIL off)"
    if ft_py=$(find_ft_python); then
        venv="$root/.venv/py3.13t"
        echo "interpreter: $ft_py ($("$ft_py" -VV))"
        [ -x "$venv/bin/python" ] || "$ft_py" -m venv "$venv"
        "$venv/bin/python" -m pip install -q --upgrade pip
        "$venv/bin/python" -m pip install -q -e ".[test-freethreaded]"
        # No PYTHON_GIL here: an extension module that does not declare
        # free-threading support would turn the GIL back on at import.
        if env -u PYTHON_GIL "$venv/bin/python" -c 'import sys, aioloop; sys.exit(sys._is_gil_enabled())'; then
            summary+=("Python 3.13t: the GIL stays off after import aioloop")
        else
            summary+=("Python 3.13t: importing aioloop turned the GIL on"); status=1
        fi
        set +e
        PYTHON_GIL=0 "$venv/bin/python" -m pytest -q -p no:cacheprovider tests --ignore=tests/integration
        rc=$?
        set -e
        summary+=("Python 3.13t (GIL off): unit tests exit $rc")
        [ $rc -eq 0 ] || status=1
    else
        summary+=("Python 3.13t: no free-threaded interpreter could be built"); status=1
    fi
fi

printf '%s\n' "${summary[@]}"
exit $status
