"""HTTP serving shared by the example servers: standard library only.

`serve(handler_class, name)` listens on HOST:PORT (default 0.0.0.0:8080),
handles SIGTERM and SIGINT once (stop accepting, let in-flight requests finish
for at most DRAIN_SECONDS, then return), and logs one line per request
without headers.
"""
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DRAIN_SECONDS = 10


class Handler(BaseHTTPRequestHandler):
    """A request handler with small helpers for text and JSON answers."""

    server_version = "runner"
    sys_version = ""

    def send_body(self, status, body, content_type="text/plain; charset=utf-8"):
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def do_POST(self):
        self.send_body(405, "method not allowed\n")

    do_PUT = do_DELETE = do_PATCH = do_POST

    def log_message(self, format, *args):
        # one line per request to stderr; never headers (they may carry tokens)
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


class Server(ThreadingHTTPServer):
    """Counts requests in flight so that shutdown can wait for them."""

    daemon_threads = True

    def __init__(self, address, handler_class):
        super().__init__(address, handler_class)
        self.in_flight = 0
        self.idle = threading.Condition()

    def process_request(self, request, client_address):
        # counted here, in the accepting thread, so a request accepted just
        # before shutdown is already in flight when drain() looks
        with self.idle:
            self.in_flight += 1
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.request_done()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.request_done()

    def request_done(self):
        with self.idle:
            self.in_flight -= 1
            self.idle.notify_all()

    def drain(self, timeout):
        """Waits up to `timeout` seconds for requests in flight; returns how many are left."""
        deadline = time.monotonic() + timeout
        with self.idle:
            while self.in_flight and time.monotonic() < deadline:
                self.idle.wait(deadline - time.monotonic())
            return self.in_flight


def serve(handler_class, name):
    host = os.environ.get("HOST", "0.0.0.0")
    try:
        port = int(os.environ.get("PORT", "8080"))
    except ValueError:
        print(f"{name}: PORT must be a number, got {os.environ.get('PORT')!r}", file=sys.stderr)
        return 2
    server = Server((host, port), handler_class)
    stopping = threading.Event()

    def stop(signum, _frame):
        if stopping.is_set():
            return
        stopping.set()
        print(f"{name}: {signal.Signals(signum).name} received, stopping", flush=True)
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"{name}: listening on {host}:{server.server_address[1]}", flush=True)
    server.serve_forever()
    left = server.drain(DRAIN_SECONDS)
    server.server_close()
    print(f"{name}: stopped" + (f", {left} requests cut off" if left else ""), flush=True)
    return 0
