"""Outgoing e-mail, always sent from a job.

Backends: ``smtp`` (production) and ``file`` (development and tests: each
message is written as JSON under ``MAIL_DIR`` and listed on ``/dev/mail``).
"""

from __future__ import annotations

import json
import smtplib
import uuid
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from flask import current_app

from saas.jobs import enqueue, job


@job(queue="notifications", tenant=False, retries=5)
def send_email(to: str, subject: str, body: str) -> None:
    cfg = current_app.config
    if cfg["MAIL_BACKEND"] == "file":
        folder = Path(cfg["MAIL_DIR"])
        folder.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC)
        message = {"to": to, "subject": subject, "body": body, "sent_at": stamp.isoformat()}
        name = f"{stamp:%Y%m%dT%H%M%S%f}-{uuid.uuid4().hex[:8]}.json"
        (folder / name).write_text(json.dumps(message, indent=1))
        return
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = cfg["MAIL_FROM"], to, subject
    msg.set_content(body)
    with smtplib.SMTP(cfg["MAIL_SERVER"], cfg["MAIL_PORT"], timeout=30) as smtp:
        if cfg["MAIL_USE_TLS"]:
            smtp.starttls()
        if cfg["MAIL_USERNAME"]:
            smtp.login(cfg["MAIL_USERNAME"], cfg["MAIL_PASSWORD"])
        smtp.send_message(msg)


def queue_email(to: str, subject: str, body: str) -> None:
    """Send an e-mail from a worker once the current unit of work commits."""
    enqueue(send_email, to, subject, body)


def stored_messages() -> list[dict]:
    """Messages kept by the file backend, newest first."""
    folder = Path(current_app.config["MAIL_DIR"])
    if not folder.exists():
        return []
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"), reverse=True)]
