"""Run the app on waitress (a production WSGI server) and shut down cleanly on SIGTERM or Ctrl-C.

Waitress's defaults suit a server behind a proxy that already bounds its clients; kb is often run
bare, so it sets the limits itself:

* the request body limit is the app's (``MAX_CONTENT_LENGTH``): waitress answers 413 as soon as it
  reads a larger Content-Length (or a chunked body passes it), before reading the body, where its
  default of 1 GB spooled a 300 MB upload to a temporary file first;
* ``connection_limit`` open connections (waitress: 100, after which every new client waited), with
  ``poll()`` instead of ``select()``, which cannot watch descriptors above 1024, and the process's
  open-file limit raised to fit;
* idle connections are closed after ``idle_timeout`` seconds, and a client that trickles a request
  (slowloris) is closed when the request is not complete ``request_timeout`` seconds after its first
  byte, which waitress alone never does (its timeout restarts with every byte);
* errors waitress answers itself (413, 400, 431 …) are JSON ``{"error": {"code", "message"}}`` like the app's;
* a client answered 429 or 503 (a locked or over-capacity sign-in, told to come back after
  ``Retry-After``) has its next requests of the same kind (method and path, from the same address)
  held ``refusal_delay`` seconds (plus up to half that, at random) before they are handled. The wait
  is a timer, not a worker thread, so customers' searches do not queue behind it, and a new
  connection per attempt does not dodge it; other requests from that address (its searches, its
  pages) are not held. Without it a client that ignores Retry-After gets its refusals as fast as it
  asks (16 clients: ~1,000 a second, each parsed, dispatched and answered on the GIL the searches
  need); with it, ~16 a second (tests/bench/login_flood.py: search p99 during the flood halved, and
  1.5× as many searches answered). Behind a ``trusted_proxy`` every client shares the proxy's
  address, so there kb holds nothing and the proxy's own limit (nginx ``limit_req``) slows a flood.
"""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import random
import signal
import sys
import threading
import time

from waitress.channel import HTTPChannel
from waitress.parser import HTTPRequestParser
from waitress.server import BaseWSGIServer, create_server
from waitress.task import ErrorTask, WSGITask

log = logging.getLogger(__name__)

FORWARDED_HEADERS = {"x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port"}


class _JSONErrorTask(ErrorTask):
    """Waitress's own error answers (body too large, malformed request) in kb's JSON error shape."""

    def execute(self):
        error = self.request.error
        body = json.dumps({"error": {"code": error.reason.lower().replace(" ", "_"),
                                     "message": f"{error.reason}: {error.body}"}}).encode()
        self.status = f"{error.code} {error.reason}"
        self.response_headers.append(("Content-Type", "application/json"))
        self.set_close_on_finish()
        self.content_length = len(body)
        self.write(body)


class _TimedParser(HTTPRequestParser):
    """A request parser that remembers when the request's first byte arrived."""

    def __init__(self, adj):
        super().__init__(adj)
        self.started = time.monotonic()


BACK_OFF_STATUSES = ("429", "503")
MAX_HELD_KINDS = 10_000  # (address, method, path) waits remembered at once; beyond it the ended are dropped


class _Task(WSGITask):
    """A request answered by the app; an answer telling the client to back off holds its next such requests."""

    def execute(self):
        super().execute()
        backoff = getattr(self.channel.server, "kb_backoff", None)
        if backoff is not None and self.status[:3] in BACK_OFF_STATUSES:
            backoff.refused(self.channel, self.request)


class _Channel(HTTPChannel):
    error_task_class = _JSONErrorTask
    parser_class = _TimedParser
    task_class = _Task


class _Backoff:
    """Dispatches a connection's request to the worker threads at once, or, when the same address was
    just refused the same kind of request, holds it until that wait ends, on one timer thread (a
    worker would idle through the whole wait)."""

    def __init__(self, add_task, delay: float):
        self.add_task, self.delay = add_task, delay
        self.refusals: dict[tuple, float] = {}  # (address, method, path) → monotonic time its wait ends
        self.waiting: list = []  # heap of (due, sequence, channel)
        self.held = 0  # requests held so far
        self._sequence = itertools.count()
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None

    @staticmethod
    def _kind(channel, request) -> tuple:
        address = channel.addr[0] if isinstance(channel.addr, tuple) else "-"  # "-": a Unix socket
        return address, request.command, request.path

    def refused(self, channel, request) -> None:
        """Hold this address's next requests of this kind for the delay (called when one is answered 429/503)."""
        now = time.monotonic()
        with self._cond:
            if len(self.refusals) >= MAX_HELD_KINDS:
                self.refusals = {k: due for k, due in self.refusals.items() if due > now}
                if len(self.refusals) >= MAX_HELD_KINDS:  # a flood of distinct paths: start over, never grow
                    self.refusals.clear()
            self.refusals[self._kind(channel, request)] = now + self.delay

    def __call__(self, channel) -> None:
        with self._cond:
            request = channel.requests[0] if channel.requests else None
            due = self.refusals.get(self._kind(channel, request), 0.0) if request is not None else 0.0
            if due > time.monotonic():
                # Spread over half a delay more, so the held requests do not all come back at one instant
                # and meet a full cap of password checks together (503 again, and held again, in step).
                due += random.uniform(0, self.delay / 2)
                heapq.heappush(self.waiting, (due, next(self._sequence), channel))
                self.held += 1
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="kb-backoff", daemon=True)
                    self._thread.start()
                self._cond.notify()
                return
        self.add_task(channel)

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self.waiting or self.waiting[0][0] > time.monotonic():
                    self._cond.wait(self.waiting[0][0] - time.monotonic() if self.waiting else None)
                channel = heapq.heappop(self.waiting)[2]
            self.add_task(channel)  # thread-safe: waitress's workers call it too, for pipelined requests


def _install_limits(server, request_timeout: int, refusal_delay: int = 0) -> None:
    """Give each listening server kb's channel, the back-off after refusals (refusal_delay > 0) and the
    request deadline."""
    servers = [server] if isinstance(server, BaseWSGIServer) else \
        [s for s in server.map.values() if isinstance(s, BaseWSGIServer)]
    for s in servers:
        s.channel_class = _Channel
        if refusal_delay > 0:
            s.kb_backoff = s.add_task = _Backoff(s.add_task, refusal_delay)
        idle_cleanup = s.maintenance

        def maintenance(now, s=s, idle_cleanup=idle_cleanup):
            idle_cleanup(now)  # waitress: idle connections (no request in progress) after channel_timeout
            cutoff = time.monotonic() - request_timeout
            for channel in list(s.active_channels.values()):
                request = channel.request  # a request still being received (None between requests)
                if request is not None and not request.completed and getattr(request, "started", cutoff) < cutoff:
                    channel.will_close = True

        s.maintenance = maintenance


def _raise_open_file_limit(wanted: int) -> None:
    """Raise the soft limit on open files towards wanted (each connection needs one, sometimes three)."""
    try:
        import resource
    except ImportError:  # pragma: no cover - not on POSIX
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    if soft != resource.RLIM_INFINITY and soft < wanted // 2:
        log.warning("only %d open files allowed (ulimit -n): fewer connections than --connection-limit fit", soft)


class AccessLog:
    """WSGI middleware printing one common-log-format line per request once its body is sent
    (``127.0.0.1 - wang [06/Dec/2026:20:15:02 +0000] "GET /api/search?q=x HTTP/1.1" 200 512``).
    The user is the signed-in account when the app names it in ``kb.user`` in the environ."""

    def __init__(self, app, stream):
        self.app, self.stream, self.lock = app, stream, threading.Lock()

    def __call__(self, environ, start_response):
        seen = {}

        def recording_start_response(status, headers, exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            return start_response(status, headers, exc_info)

        body = self.app(environ, recording_start_response)
        return _LoggedBody(body, lambda sent: self._write(environ, seen.get("status", "-"), sent))

    def _write(self, environ, status: str, sent: int) -> None:
        target = environ.get("PATH_INFO", "") + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
        line = (f'{environ.get("REMOTE_ADDR") or "-"} - {environ.get("kb.user") or "-"} '
                f'[{time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime())}] '
                f'"{environ.get("REQUEST_METHOD", "-")} {target} {environ.get("SERVER_PROTOCOL", "-")}" {status} '
                f'{sent or "-"}\n')
        with self.lock:
            self.stream.write(line)
            self.stream.flush()


class _LoggedBody:
    """A response body that counts the bytes sent and reports them when the server closes it."""

    def __init__(self, body, done):
        self.body, self.done, self.sent = body, done, 0

    def __iter__(self):
        for chunk in self.body:
            self.sent += len(chunk)
            yield chunk

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.done(self.sent)


def serve(app, host: str, port: int, threads: int = 8, ready=None, *, connection_limit: int = 1000,
          idle_timeout: int = 30, request_timeout: int = 30, trusted_proxy: str = "", access_log: bool = False,
          refusal_delay: int = 1) -> None:
    """Serve until SIGTERM/SIGINT, then finish in-flight requests and flush the event log."""
    # "Task queue depth is N" only says all threads are busy for a moment; not worth a log line each time.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    max_body = app.config.get("MAX_CONTENT_LENGTH") or 2 * 1024 * 1024
    limits = {
        "max_request_body_size": max_body + 1,  # waitress refuses a body of this size or more
        "max_request_header_size": 64 * 1024,
        "connection_limit": connection_limit,
        "channel_timeout": idle_timeout,
        "cleanup_interval": max(1, min(idle_timeout, request_timeout) // 4),
        "asyncore_use_poll": True,
    }
    if trusted_proxy:
        limits.update(trusted_proxy=trusted_proxy, trusted_proxy_count=1, trusted_proxy_headers=FORWARDED_HEADERS)
    _raise_open_file_limit(2 * connection_limit + 256)
    try:
        server = create_server(AccessLog(app, sys.stdout) if access_log else app, host=host, port=port,
                               threads=threads, ident="kb",
                               clear_untrusted_proxy_headers=True, **limits)
    except ValueError:  # waitress: an address that does not resolve
        raise OSError(f"cannot listen on {host}:{port}: not a valid address for this machine; "
                      "use --host 127.0.0.1 (or KB_HOST)") from None
    except OSError as exc:
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}. "
                      "Is another kb running? Pick another port with --port or KB_PORT.") from None
    _install_limits(server, request_timeout, 0 if trusted_proxy else refusal_delay)

    def stop(signum, frame):
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, stop)
    if ready:
        ready(f"http://{host}:{server.effective_port}/")
    try:
        server.run()  # returns after SIGTERM/Ctrl-C, once waitress has let in-flight requests finish
    finally:
        # A second SIGTERM or Ctrl-C must not cut the flush short: every acknowledged event is stored.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        server.close()
        app.extensions["kb_events"].close()
