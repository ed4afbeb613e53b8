# Source this file from the repository root: it creates or refreshes .venv from
# the pinned requirements.txt and activates it.
#
# The venv is rebuilt only when requirements.txt or pyproject.toml changed since
# it was last installed (a hash stamp inside .venv), so a second call returns
# within seconds.

VENV_DIR="${VENV_DIR:-.venv}"
PYTHON="${PYTHON:-python3}"
STAMP="$VENV_DIR/.requirements.sha256"

_wanted_hash() {
    cat requirements.txt pyproject.toml | sha256sum | cut -d' ' -f1
}

if [ ! -x "$VENV_DIR/bin/python" ]; then
    echo "[venv] creating $VENV_DIR with $($PYTHON --version 2>&1)"
    "$PYTHON" -m venv "$VENV_DIR" || { echo "[venv] could not create $VENV_DIR" >&2; return 1 2>/dev/null || exit 1; }
fi

if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$(_wanted_hash)" ]; then
    echo "[venv] installing requirements.txt into $VENV_DIR (first time: a few minutes)"
    if ! "$VENV_DIR/bin/python" -m pip install -r requirements.txt > "$VENV_DIR/pip-install.log" 2>&1; then
        tail -n 30 "$VENV_DIR/pip-install.log" >&2
        echo "[venv] pip install -r requirements.txt failed; full log: $VENV_DIR/pip-install.log" >&2
        return 1 2>/dev/null || exit 1
    fi
    _wanted_hash > "$STAMP"
else
    echo "[venv] $VENV_DIR is up to date with requirements.txt"
fi

# shellcheck disable=SC1091
. "$VENV_DIR/bin/activate"
