# Sourced by scripts/test and scripts/bench-dynamodb: installs moto and cbor2 in .tools/venv (once),
# starts moto_server and the CloudWatch CBOR proxy (scripts/cloudwatch_cbor_proxy.py, see
# docs/local-aws.md) on free 127.0.0.1 ports, stops both on exit, and exports the variables the
# AWS-backed tests and benches read. Expects ROOT and section().
TOOLS="$ROOT/.tools"
VENV="$TOOLS/venv"
MOTO_VERSION="5.2.5"
CBOR2_VERSION="6.2.1"
MARKER="$VENV/.moto-$MOTO_VERSION-cbor2-$CBOR2_VERSION-installed"
PYTHON="${PYTHON:-python3}"

section() { printf '\n==> %s\n' "$*"; }

section "moto $MOTO_VERSION, cbor2 $CBOR2_VERSION (venv in .tools/venv)"
mkdir -p "$TOOLS"
if [[ ! -f "$MARKER" ]]; then
  if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
  fi
  "$VENV/bin/pip" install --quiet --disable-pip-version-check \
    "moto[server]==$MOTO_VERSION" "cbor2==$CBOR2_VERSION"
  touch "$MARKER"
else
  echo "reusing existing venv"
fi

free_port() {
  "$VENV/bin/python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

MOTO_PID=""
PROXY_PID=""
cleanup() {
  local pid
  for pid in "$PROXY_PID" "$MOTO_PID"; do
    if [[ -n "$pid" ]] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
}
trap cleanup EXIT

# wait_http NAME PID URL LOG: until URL gives any HTTP answer (curl need not be installed).
wait_http() {
  local name="$1" pid="$2" url="$3" log="$4"
  for _ in $(seq 1 60); do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "$name exited early; see $log:" >&2
      tail -n 20 "$log" >&2 || true
      exit 1
    fi
    if "$VENV/bin/python" - "$url" <<'PY' 2>/dev/null; then
import sys, urllib.error, urllib.request
try:
    urllib.request.urlopen(sys.argv[1], timeout=1)
except urllib.error.HTTPError:
    pass
PY
      return 0
    fi
    sleep 0.5
  done
  echo "$name did not answer on $url within 30 s; see $log" >&2
  exit 1
}

section "starting moto_server"
PORT="$(free_port)"
"$VENV/bin/moto_server" -H 127.0.0.1 -p "$PORT" >"$TOOLS/moto.log" 2>&1 &
MOTO_PID=$!
wait_http moto_server "$MOTO_PID" "http://127.0.0.1:$PORT/moto-api/" "$TOOLS/moto.log"
echo "moto_server on http://127.0.0.1:$PORT (pid $MOTO_PID, log .tools/moto.log)"

section "starting the CloudWatch CBOR proxy"
PROXY_PORT="$(free_port)"
"$VENV/bin/python" "$ROOT/scripts/cloudwatch_cbor_proxy.py" \
  --port "$PROXY_PORT" --upstream "http://127.0.0.1:$PORT" >"$TOOLS/cloudwatch-proxy.log" 2>&1 &
PROXY_PID=$!
wait_http cloudwatch_cbor_proxy "$PROXY_PID" "http://127.0.0.1:$PROXY_PORT/" \
  "$TOOLS/cloudwatch-proxy.log"
echo "CloudWatch CBOR proxy on http://127.0.0.1:$PROXY_PORT -> moto" \
  "(pid $PROXY_PID, log .tools/cloudwatch-proxy.log)"

export SAAS_TEST_MOTO_ENDPOINT="http://127.0.0.1:$PORT"
# aws-sdk-cloudwatch speaks RPC v2 CBOR, which moto does not: CloudWatch goes through the proxy.
export SAAS_TEST_CLOUDWATCH_ENDPOINT="http://127.0.0.1:$PROXY_PORT"
export SAAS_REQUIRE_MOTO=1
export AWS_ACCESS_KEY_ID=testing
export AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1

