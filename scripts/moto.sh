# Sourced by scripts/test and scripts/bench-dynamodb: installs moto in .tools/venv (once), starts
# moto_server on a free 127.0.0.1 port, stops it on exit, and exports the variables the
# AWS-backed tests and benches read. Expects ROOT and section().
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"
MOTO_VERSION="5.2.5"
MARKER="$VENV/.moto-$MOTO_VERSION-installed"
PYTHON="${PYTHON:-python3}"

section() { printf '\n==> %s\n' "$*"; }

section "moto $MOTO_VERSION (venv in .tools/venv)"
mkdir -p "$TOOLS"
if [[ ! -f "$MARKER" ]]; then
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
  touch "$MARKER"
else
  echo "reusing existing venv"
fi

section "starting moto_server"
PORT="$("$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$TOOLS/moto.log" 2>&1 &
MOTO_PID=$!
cleanup() {
  if kill -0 "$MOTO_PID" 2>/dev/null; then
    kill "$MOTO_PID" 2>/dev/null || true
    wait "$MOTO_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

ready=0
for _ in $(seq 1 60); do
  if ! kill -0 "$MOTO_PID" 2>/dev/null; then
    echo "moto_server exited early; see .tools/moto.log:" >&2
    tail -n 20 "$TOOLS/moto.log" >&2 || true
    exit 1
  fi
  # Any HTTP answer means it is up (curl need not be installed).
  if "$VENV/bin/python" - "$PORT" <<'PY' 2>/dev/null; then
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/moto-api/", timeout=1)
except urllib.error.HTTPError:
    pass
PY
    ready=1
    break
  fi
  sleep 0.5
done
if [[ "$ready" != 1 ]]; then
  echo "moto_server did not answer on 127.0.0.1:$PORT within 30 s; see .tools/moto.log" >&2
  exit 1
fi
echo "moto_server on http://127.0.0.1:$PORT (pid $MOTO_PID, log .tools/moto.log)"

export SAAS_TEST_MOTO_ENDPOINT="http://127.0.0.1:$PORT"
export SAAS_REQUIRE_MOTO=1
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1

