#!/usr/bin/env bash
# Installs what the tests drive: node modules, Debian tools (twine, poetry, nginx, ...), one
# isolated pip per version under test, and the test distributions built from
# test/fixtures/projects. Idempotent; quiet unless something fails; a few seconds when all is there.
# PyPI is not reachable where this runs: everything comes from apt, the pyenv Pythons' bundled
# pip wheels and the local wheel mirror.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CACHE=${WHEELHOUSE_TEST_CACHE:-$HOME/.cache/wheelhouse-test}
mkdir -p "$CACHE"
LOG="$CACHE/setup.log"

# Several test runs may start at once on one machine; the second waits for the first.
exec 9>"$CACHE/.setup.lock"
flock 9
: >"$LOG"
rm -rf "$CACHE"/dists-build.* # left by a run that was killed

fail() {
  echo "test/setup.sh: $*" >&2
  echo "--- last lines of $LOG ---" >&2
  tail -n 60 "$LOG" >&2
  exit 1
}
run() { "$@" >>"$LOG" 2>&1 || fail "failed: $*"; }
warn() { echo "test/setup.sh: warning: $*" >&2; }

# --- node modules -----------------------------------------------------------------------------
# npm rewrites node_modules/.package-lock.json on every install, so it dates the tree.
cd "$ROOT"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
  run npm ci --no-audit --no-fund
fi

# --- Debian packages --------------------------------------------------------------------------
APT_PACKAGES=(twine python3-poetry python3-build python3-wheel python3-venv python3-setuptools
  nginx apache2-utils python3-fusepy fuse3 strace python3-yaml chromium)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ $status == "install ok installed" ]] || missing+=("$p")
done
if ((${#missing[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  run apt-get update -q
  run apt-get install -y -q "${missing[@]}"
fi

if [[ -f "$ROOT/test/setup-fuse.sh" ]]; then
  bash "$ROOT/test/setup-fuse.sh" >>"$LOG" 2>&1 || fail "test/setup-fuse.sh failed"
fi

# --- test distributions -----------------------------------------------------------------------
build_dists() {
  # Rebuilt when any fixture source (or the Debian setuptools doing the build) changes.
  PROJECTS="$ROOT/test/fixtures/projects"
  DISTS="$CACHE/dists"
  want=$( (cd "$PROJECTS" && find . -type f -print0 | sort -z | xargs -0 sha256sum;
    dpkg-query -W -f='${Version}' python3-setuptools) | sha256sum | cut -d' ' -f1)
  if [[ $(cat "$DISTS/.fixtures-hash" 2>/dev/null) != "$want" ]]; then
    work=$(mktemp -d "$CACHE/dists-build.XXXXXX")
    trap 'rm -rf "$work"' EXIT
    mkdir -p "$work/src" "$work/out"
    # Build from copies: setuptools writes build/ and *.egg-info next to the sources.
    cp -r "$PROJECTS"/. "$work/src/"
    export LOG work
    # Debian's python3 with its setuptools; --no-isolation because no index is reachable.
    # Each build logs apart; only a failed one's output goes to the shared log.
    ls "$work/src" | xargs -P 2 -I{} sh -c \
      'cd "$work/src/{}" && /usr/bin/python3 -m build --no-isolation --outdir "$work/out" . >"$work/{}.log" 2>&1 \
        || { echo "=== building {} ===" >>"$LOG"; cat "$work/{}.log" >>"$LOG"; exit 1; }' \
      || fail "building the test distributions from test/fixtures/projects failed"
    # The same wheel under its normalized file name, beside the legacy-style one setuptools writes.
    cp "$work/out/WHTest_Odd.Name-1.0-py2.py3-none-any.whl" "$work/out/whtest_odd_name-1.0-py2.py3-none-any.whl" \
      || fail "WHTest_Odd.Name wheel missing"
    echo "$want" >"$work/out/.fixtures-hash"
    rm -rf "$DISTS"
    mv "$work/out" "$DISTS"
  fi
}

# Building takes longer than the pips: both at once.
build_dists &
dists_pid=$!

# --- pips -------------------------------------------------------------------------------------
# Environment for every Python run here: the machine's pip config points at local mirrors,
# which must not leak into what gets installed. PIP_NO_CACHE_DIR=off: pip 18.1 crashes on a true
# value (it stores the int as the cache dir) and every pip since reads any boolean as "off".
clean() {
  env -u PIP_FIND_LINKS -u PIP_INDEX_URL -u PIP_EXTRA_INDEX_URL -u PYTHONPATH -u VIRTUAL_ENV \
    PIP_CONFIG_FILE=/dev/null PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=off \
    PIP_NO_INDEX=1 PYTHONNOUSERSITE=1 PYTHONWARNINGS=ignore "$@"
}

PYENV_ROOT=${PYENV_ROOT:-$(pyenv root 2>/dev/null || echo "$HOME/.pyenv")}
PIPS="$CACHE/pips"
mkdir -p "$PIPS"
manifest=()

# add_pip PIP_VERSION PYTHON_VERSION PIP_WHEEL
# A venv made --without-pip, then the exact pip wheel installed into it by running pip from the
# wheel itself (what get-pip does). Python 2.7 has no venv module: there pip is installed with
# --target into a folder put on PYTHONPATH.
add_pip() {
  local pipv=$1 pyv=$2 whl=$3
  local py="$PYENV_ROOT/versions/$pyv/bin/python"
  local dir="$PIPS/pip-$pipv-py$pyv"
  local kind=venv exe="$dir/venv/bin/python" path=""
  if [[ $pyv == 2.* ]]; then kind=target exe=$py path="$dir/lib"; fi
  if [[ ! -x $py ]]; then warn "Python $pyv is not in pyenv ($PYENV_ROOT): pip $pipv skipped"; return; fi
  if [[ ! -f $whl ]]; then warn "no wheel for pip $pipv ($whl): skipped"; return; fi

  if [[ $(cat "$dir/.ok" 2>/dev/null) != "$pipv $whl" ]]; then
    rm -rf "$dir"
    mkdir -p "$dir"
    # Bundled setuptools (when there is one) makes it an ordinary venv, able to build old sdists.
    local extra=()
    for s in "$(dirname "$whl")"/setuptools-*.whl; do [[ -f $s ]] && extra+=("$s"); done
    if [[ $kind == venv ]]; then
      run clean "$py" -m venv --without-pip "$dir/venv"
      run clean "$exe" "$whl/pip" install -q --no-deps --no-compile "$whl" "${extra[@]}"
    else
      run clean "$py" "$whl/pip" install -q --no-deps --no-compile --target "$path" "$whl"
    fi
    local got
    got=$(clean PYTHONPATH="$path" "$exe" -m pip --version 2>>"$LOG") || fail "pip $pipv does not run"
    [[ $got == "pip $pipv "* ]] || fail "expected pip $pipv in $dir, got: $got"
    echo "$pipv $whl" >"$dir/.ok"
  fi
  manifest+=("{ \"pip\": \"$pipv\", \"python\": \"$pyv\", \"exe\": \"$exe\", \"kind\": \"$kind\", \"path\": \"$path\" }")
}

bundled() { # PYTHON_VERSION PIP_VERSION -> path of that Python's bundled pip wheel
  compgen -G "$PYENV_ROOT/versions/$1/lib/python*/ensurepip/_bundled/pip-$2-*.whl" | head -n 1 || true
}

add_pip 18.1 3.6.15 "$(bundled 3.6.15 18.1)"
add_pip 19.2.3 2.7.18 "$(bundled 2.7.18 19.2.3)"
add_pip 22.0.4 3.7.16 "$(bundled 3.7.16 22.0.4)"
add_pip 23.0.1 3.10.13 "$(bundled 3.10.13 23.0.1)"
add_pip 23.2.1 3.11.7 "$(bundled 3.11.7 23.2.1)"
add_pip 24.2 3.13.0 "$(bundled 3.13.0 24.2)"

# The newest pip the machine carries lives in the local wheel mirror.
newest=$(compgen -G "/opt/pypi/files/pip-*.whl" | sort -V | tail -n 1 || true)
if [[ -n $newest ]]; then
  newest_v=$(basename "$newest" | cut -d- -f2)
  newest_py=3.13.0
  [[ -x $PYENV_ROOT/versions/$newest_py/bin/python ]] || newest_py=3.11.7
  add_pip "$newest_v" "$newest_py" "$newest"
else
  warn "no pip wheel in /opt/pypi/files: the newest pip is not set up"
fi

{
  echo "["
  for i in "${!manifest[@]}"; do
    sep=","; ((i == ${#manifest[@]} - 1)) && sep=""
    echo "  ${manifest[$i]}$sep"
  done
  echo "]"
} >"$CACHE/pips.json.tmp"
mv "$CACHE/pips.json.tmp" "$CACHE/pips.json"

wait "$dists_pid" || exit 1
