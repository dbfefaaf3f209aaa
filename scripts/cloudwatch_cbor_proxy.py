#!/usr/bin/env python3
"""CloudWatch RPC v2 CBOR -> awsJson1_0 translating proxy, for tests against moto.

aws-sdk-cloudwatch (Rust, 1.14x) speaks Smithy RPC v2 CBOR; moto 5.2.5 only answers CloudWatch's
JSON protocol (moto issue 9195). This proxy sits between them on 127.0.0.1:

    SDK --POST /service/GraniteServiceVersion20100801/operation/<Op>, CBOR-->  proxy
    proxy --POST /, X-Amz-Target: GraniteServiceVersion20100801.<Op>, JSON-->  moto

Requests need no model: a gzip body (the SDK compresses PutMetricData bodies of 10 KiB and more,
`Content-Encoding: gzip`) is inflated, CBOR tag 1 (epoch seconds) becomes a JSON number, a byte
string a base64 string, everything else maps one to one. The Authorization and x-amz* headers go
along: moto checks no signature, but picks service, region and account from the SigV4 credential
scope (without one it answers as S3, so unsigned requests get a us-east-1 stand-in).

Responses do need the model, because the SDK's CBOR decoder is strict: a timestamp must be tag 1
(a bare number fails to parse) and a `double` a CBOR float (minicbor's f64() rejects integers).
OUTPUT_SHAPES below lists, for each supported operation, the output members that are timestamps
or doubles, read from the SDK's generated deserializers (aws-sdk-cloudwatch 1.140.0,
src/protocol_serde/shape_*.rs). Operations not listed are refused with UnknownOperationException
rather than answered with a body the SDK may misparse.

Errors: moto answers `{"__type": "GraniteServiceVersion20100801#<Name>Exception", "message": ...}`
plus the header `x-amzn-query-error: <QueryCode>;Sender`. The SDK takes the error code from
`__type` (the part after '#') and then overrides it with the header's code, which is what its
generated matchers use ("InvalidParameterValue", "MissingParameter", ...). So the body goes back
as the same map in CBOR and every x-amz* header is passed back; the HTTP status is kept.

Usage: cloudwatch_cbor_proxy.py --port PORT --upstream http://127.0.0.1:MOTOPORT
Needs cbor2 (pip). Logs one line per request to stderr.
"""

import argparse
import base64
import datetime
import gzip
import json
import sys
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cbor2

TARGET_PREFIX = "GraniteServiceVersion20100801"
PATH_PREFIX = f"/service/{TARGET_PREFIX}/operation/"
UNSIGNED_AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20000101/us-east-1/monitoring/aws4_request, "
    "SignedHeaders=host, Signature=0"
)

# Output shapes: a dict is a structure (member -> shape; members not named are strings, enums or
# structures without timestamps/doubles and pass through), a one-element list is a list of that
# shape, MapOf(shape) a map with string keys.
TIMESTAMP = "timestamp"
DOUBLE = "double"


class MapOf:
    def __init__(self, value):
        self.value = value


DATAPOINT = {  # shape_datapoint.rs
    "Timestamp": TIMESTAMP,
    "SampleCount": DOUBLE,
    "Average": DOUBLE,
    "Sum": DOUBLE,
    "Minimum": DOUBLE,
    "Maximum": DOUBLE,
    "ExtendedStatistics": MapOf(DOUBLE),  # shape_datapoint_value_map.rs
}
METRIC_DATA_RESULT = {  # shape_metric_data_result.rs
    "Timestamps": [TIMESTAMP],  # shape_timestamps.rs
    "Values": [DOUBLE],  # shape_datapoint_values.rs
}
OUTPUT_SHAPES = {
    "PutMetricData": {},  # no output members
    "ListMetrics": {},  # Metrics[] (Namespace, MetricName, Dimensions[]), NextToken: strings
    "GetMetricStatistics": {"Datapoints": [DATAPOINT]},
    "GetMetricData": {"MetricDataResults": [METRIC_DATA_RESULT]},
}


def cbor_to_json(value):
    """A decoded CBOR request value -> the JSON protocol's value (no model needed)."""
    if isinstance(value, datetime.datetime):  # cbor2 decodes tag 1 to an aware datetime
        return value.timestamp()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {key: cbor_to_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [cbor_to_json(item) for item in value]
    if isinstance(value, cbor2.CBORTag):
        raise ValueError(f"unexpected CBOR tag {value.tag}")
    return value


def json_to_cbor(value, shape):
    """A JSON response value -> the value to encode as CBOR, typed by `shape`."""
    if value is None:
        return None
    if shape == TIMESTAMP:
        return cbor2.CBORTag(1, value)  # moto writes epoch seconds (int or float)
    if shape == DOUBLE:
        return float(value)
    if isinstance(shape, list):
        return [json_to_cbor(item, shape[0]) for item in value]
    if isinstance(shape, MapOf):
        return {key: json_to_cbor(item, shape.value) for key, item in value.items()}
    if isinstance(shape, dict):
        return {key: json_to_cbor(item, shape.get(key)) for key, item in value.items()}
    return value  # shape None: a string, boolean, or a structure/list of them


def error_body(code, message):
    return {"__type": code, "message": message}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; every answer carries Content-Length
    # Headers and body go out in two writes: without TCP_NODELAY the body waits for the client's
    # delayed ACK (40 ms on Linux) on every keep-alive answer.
    disable_nagle_algorithm = True
    upstream = ""  # set in main()

    def do_GET(self):  # health check for scripts/moto.sh
        self.request_len = "0 B"
        self.reply(200, {"upstream": self.upstream}, {}, "health")

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.request_len = f"{len(raw)} B"
        operation = self.path[len(PATH_PREFIX) :] if self.path.startswith(PATH_PREFIX) else ""
        if operation not in OUTPUT_SHAPES:
            message = (
                f"cloudwatch_cbor_proxy.py does not translate {self.path!r}: add the "
                "operation's output timestamps/doubles to OUTPUT_SHAPES"
            )
            return self.reply(404, error_body("UnknownOperationException", message), {}, operation)
        try:
            if "gzip" in self.headers.get("Content-Encoding", ""):
                raw = gzip.decompress(raw)  # PutMetricData bodies of 10 KiB and more
                self.request_len += f" gzip, {len(raw)} B"
            request = cbor2.loads(raw) if raw else {}
            body = json.dumps(cbor_to_json(request)).encode()
        except (cbor2.CBORError, ValueError, OSError, EOFError) as e:
            return self.reply(400, error_body("SerializationException", str(e)), {}, operation)

        headers = {
            "Content-Type": "application/x-amz-json-1.0",
            "X-Amz-Target": f"{TARGET_PREFIX}.{operation}",
            # moto picks service, region and account from the SigV4 credential scope (and
            # answers as S3 without one): this stands in for an unsigned request's.
            "Authorization": UNSIGNED_AUTHORIZATION,
        }
        for name, value in self.headers.items():
            lower = name.lower()
            # Auth and x-amz* headers go along (moto checks neither); the payload hash no longer
            # matches the re-encoded body, and the target is ours.
            if lower == "authorization":
                headers["Authorization"] = value
            elif lower.startswith("x-amz") and lower not in ("x-amz-target", "x-amz-content-sha256"):
                headers[name] = value
        request = urllib.request.Request(self.upstream, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=30) as answer:
                status, answer_headers, answer_body = answer.status, answer.headers, answer.read()
        except urllib.error.HTTPError as e:
            status, answer_headers, answer_body = e.code, e.headers, e.read()
        except OSError as e:
            return self.reply(502, error_body("ProxyUpstreamError", str(e)), {}, operation)

        passed = {k: v for k, v in answer_headers.items() if k.lower().startswith("x-amz")}
        try:
            answer_json = json.loads(answer_body) if answer_body.strip() else {}
        except ValueError:  # e.g. a Werkzeug HTML 500 page
            text = answer_body[:200].decode("utf-8", "replace")
            body = error_body("ProxyNonJsonAnswer", f"upstream {status}: {text}")
            return self.reply(502, body, passed, operation)
        if status < 300:
            out = json_to_cbor(answer_json, OUTPUT_SHAPES[operation])
        else:
            out = dict(answer_json)
            if "message" not in out and "Message" in out:
                out["message"] = out["Message"]  # the SDK's error shapes read `message`
        self.reply(status, out, passed, operation)

    def reply(self, status, value, extra_headers, operation):
        payload = cbor2.dumps(value)
        self.send_response(status)
        self.send_header("Content-Type", "application/cbor")
        self.send_header("smithy-protocol", "rpc-v2-cbor")
        self.send_header("Content-Length", str(len(payload)))
        for name, header_value in extra_headers.items():
            self.send_header(name, header_value)
        self.end_headers()
        self.wfile.write(payload)
        error = f" {value.get('__type')}" if status >= 300 and isinstance(value, dict) else ""
        sys.stderr.write(
            f"{self.command} {operation or self.path} -> {status}{error} "
            f"({self.request_len} in, {len(payload)} B out)\n"
        )

    def log_request(self, code="-", size="-"):
        pass  # reply() logs one line per request instead


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True, help="port on 127.0.0.1")
    parser.add_argument("--upstream", required=True, help="moto's URL, e.g. http://127.0.0.1:5000")
    args = parser.parse_args()
    Handler.upstream = args.upstream.rstrip("/") + "/"
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    sys.stderr.write(f"cloudwatch cbor proxy on 127.0.0.1:{args.port} -> {Handler.upstream}\n")
    server.serve_forever()


if __name__ == "__main__":
    main()
