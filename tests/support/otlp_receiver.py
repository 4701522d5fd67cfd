"""A small real OTLP/HTTP metrics receiver for the integration tests.

Decodes every POST to /v1/metrics with the OpenTelemetry protobuf definitions
(opentelemetry-proto): JSON bodies with google.protobuf.json_format.Parse, which rejects
unknown fields and wrong types, protobuf bodies with ParseFromString. Each decoded request
is appended to the file given as the first argument, one JSON object a line
(MessageToDict). Prints the port it listens on (127.0.0.1, a free one) and serves until
killed. A body that does not decode gets 400 with the parser's message, as a collector
would answer.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)

OUT = sys.argv[1]


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        kind = self.headers.get("Content-Type", "")
        req = ExportMetricsServiceRequest()
        try:
            if self.path != "/v1/metrics":
                raise ValueError(f"unexpected path {self.path}")
            if kind.startswith("application/json"):
                json_format.Parse(body.decode("utf-8"), req)
            elif kind.startswith("application/x-protobuf"):
                req.ParseFromString(body)
            else:
                raise ValueError(f"unsupported content type {kind!r}")
        except Exception as e:  # the parser's message goes back to the client
            msg = str(e).encode()
            self.send_response(400)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(msg)))
            self.end_headers()
            self.wfile.write(msg)
            return
        with open(OUT, "a", encoding="utf-8") as f:
            record = json_format.MessageToDict(req)
            record["_headers"] = {k.lower(): v for k, v in self.headers.items()}
            f.write(json.dumps(record) + "\n")
        answer = json_format.MessageToJson(ExportMetricsServiceResponse()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(server.server_address[1], flush=True)
server.serve_forever()
