"""Delivering to other systems, off the request path: an HTTP POST, an SMTP e-mail, and the background
thread that runs a delivery pass again and again (the helpdesk forwarder of ask.py and the notification
sender of notify.py both use it, so there is one retry loop)."""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import urllib.error
import urllib.request
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

log = logging.getLogger(__name__)
TIMEOUT = 10  # seconds per delivery attempt


def post(url: str, body: bytes, headers: dict, timeout: float = TIMEOUT) -> tuple[int | None, str | None]:
    """POST body to url; (HTTP status or None, None on a 2xx answer else why it failed)."""
    req = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, (None if 200 <= response.status < 300 else f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        return exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return None, str(getattr(exc, "reason", exc))[:200] or type(exc).__name__


class Mailer:
    """Sends plain-text UTF-8 e-mails through the configured SMTP server (one connection per message)."""

    def __init__(self, settings: dict, timeout: float = TIMEOUT):
        self.host, self.port = settings["smtp_host"], settings["smtp_port"]
        self.user, self.password = settings["smtp_user"], settings["smtp_password"]
        self.sender, self.starttls, self.timeout = settings["smtp_from"], settings["smtp_starttls"], timeout

    def __call__(self, to: str, subject: str, body: str) -> str | None:
        """Send one message; None when the server accepted it, else why not."""
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, to, subject
        msg["Date"], msg["Message-ID"] = formatdate(localtime=False), make_msgid(domain="kb")
        msg.set_content(body, charset="utf-8")
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls(context=ssl.create_default_context())
                if self.user:
                    smtp.login(self.user, self.password)
                smtp.send_message(msg)
        except (smtplib.SMTPException, OSError) as exc:
            return f"SMTP {self.host}:{self.port}: {exc}"[:300]
        return None


class BackgroundWorker:
    """Runs ``deliver_due()`` (one pass; returns seconds until the next is due) in one daemon thread,
    woken early by ``notify()``; an exception is logged and the loop goes on."""

    name = "kb-delivery"

    def __init__(self):
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def enabled(self) -> bool:
        """Whether there is anywhere to deliver to (subclasses say)."""
        return True

    def start(self) -> None:
        """Start the thread (once), when enabled."""
        if not self.enabled():
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
                self._thread.start()

    def notify(self) -> None:
        """Something is waiting: deliver it now."""
        self.start()
        self._wake.set()

    def stop(self, timeout: float = 5) -> None:
        """Stop the thread (what is pending stays pending, for the next start)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.is_set():
            wait = 60.0
            try:
                wait = self.deliver_due()
            except Exception:  # a broken database must not end the thread: try again later
                log.exception("%s: delivery pass failed", self.name)
            self._wake.wait(max(0.05, wait))
            self._wake.clear()

    def deliver_due(self) -> float:  # pragma: no cover - abstract
        raise NotImplementedError
