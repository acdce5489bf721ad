#!/bin/sh
# Create the virtual environment and install the project with its test tools.
# On a fresh Debian 12 the venv module ships separately (python3-venv): install it
# with apt when `python3 -m venv` cannot run.
set -eu
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

apt_install() {
    if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@"
    else
        echo "bootstrap: please install $* (needs root and apt-get)" >&2
        exit 1
    fi
}

if ! "$PYTHON" -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install -q --upgrade pip
"$VENV/bin/python" -m pip install -q -e '.[test]'
