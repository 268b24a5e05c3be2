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
# On Python 3.12 only, the applications' own test suites then run on aioloop
# (tests/integration/app_suites.py: anyio's, and a loop-heavy part of
# aiohttp's, from their sdists, fetched with pip into ~/.cache/aioloop), with
# the `appsuites` extra installed; AIOLOOP_APPSUITES=0 skips the step, and
# AIOLOOP_APPSUITES_PYTHON picks another version.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
pythons=${AIOLOOP_PYTHONS:-"3.11 3.12 3.13"}

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

    # Conformance: CPython's own test_asyncio on aioloop
    # (tests/conformance/README.md); fails on a selected test that is not a
    # listed expected failure.
    if [ "${AIOLOOP_CONFORMANCE:-1}" != 0 ]; then
        echo "=== Python $v: conformance (tests/conformance)"
        set +e
        timeout 1500 "$venv/bin/python" tests/conformance/run.py --check --quiet 2>&1 | tee "$venv/conformance.log"
        rc=${PIPESTATUS[0]}
        set -e
        line=$(grep '^conformance ' "$venv/conformance.log" | tail -n 1)
        summary+=("${line:-conformance $v: runner failed (exit $rc)}")
        [ $rc -eq 0 ] || status=1
    fi

    # Integration: install the extra's packages (read from pyproject.toml, so
    # aioloop itself is not rebuilt), then run with them required: a missing
    # one is an error, not a skip.
    echo "=== Python $v: integration (tests/integration)"
    mapfile -t integ_reqs < <("$venv/bin/python" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["integration"]))')
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

    # Application suites: anyio's and aiohttp's own tests on aioloop, one
    # Python only (their time is the budget); a failure, a suite that does
    # not finish or a missing package fails the run. The runner's last line
    # is the summary (counts per suite).
    if [ "${AIOLOOP_APPSUITES:-1}" != 0 ] && [ "$v" = "${AIOLOOP_APPSUITES_PYTHON:-3.12}" ]; then
        echo "=== Python $v: application suites (tests/integration/app_suites.py)"
        mapfile -t app_reqs < <("$venv/bin/python" -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["appsuites"]))')
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
printf '%s\n' "${summary[@]}"
exit $status
