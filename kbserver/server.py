"""Run the app on waitress (a production WSGI server) and shut down cleanly on SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal

from waitress.server import create_server


def serve(app, host: str, port: int, threads: int = 8, ready=None) -> None:
    """Serve until SIGTERM/SIGINT, then finish in-flight requests and flush the event log."""
    # "Task queue depth is N" only says all threads are busy for a moment; not worth a log line each time.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    try:
        server = create_server(app, host=host, port=port, threads=threads, ident="kb", clear_untrusted_proxy_headers=True)
    except ValueError:  # waitress: an address that does not resolve
        raise OSError(f"cannot listen on {host}:{port}: not a valid address for this machine; "
                      "use --host 127.0.0.1 (or KB_HOST)") from None
    except OSError as exc:
        raise OSError(f"cannot listen on {host}:{port}: {exc.strerror or exc}. "
                      "Is another kb running? Pick another port with --port or KB_PORT.") from None

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
