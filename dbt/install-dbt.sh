#!/usr/bin/env bash
# Installs the pinned dbt of dbt/requirements.txt (constraints: requirements.lock)
# into a virtual environment cached outside the clone, and prints the path of its
# dbt executable. A second run finds the environment and returns at once.
#
#   ${XDG_CACHE_HOME:-$HOME/.cache}/calltouch-etl/dbt-venv-<hash of both files and python3's version>
#
# The environment is complete only when its marker file exists (written last),
# so an install that was killed is removed and done again, never reused; a lock
# keeps two installs from building the same environment at once. Needs python3
# with venv and pip.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${PYTHON:-python3}"
if ! command -v "$python" >/dev/null 2>&1; then
  echo "install-dbt: $python not found; install Python 3.9-3.13 with venv and pip (or set PYTHON)" >&2
  exit 2
fi
version="$("$python" -c 'import sys; print(sys.version.split()[0])')"
hash="$(cat "$here/requirements.txt" "$here/requirements.lock" <(echo "$version") | sha256sum | cut -c1-16)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/calltouch-etl"
venv="$cache/dbt-venv-$hash"
if [ ! -f "$venv/.complete" ]; then
  mkdir -p "$cache"
  exec 9>"$venv.lock"
  flock 9
  if [ ! -f "$venv/.complete" ]; then
    rm -rf "$venv"
    echo "install-dbt: installing $(grep -E '^[a-z]' "$here/requirements.txt" | tr '\n' ' ')into $venv" >&2
    "$python" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      -r "$here/requirements.txt" -c "$here/requirements.lock" >&2
    "$venv/bin/dbt" --version >/dev/null
    touch "$venv/.complete"
  fi
  exec 9>&-
fi
echo "$venv/bin/dbt"
