"""Outgoing email: SMTP when configured, otherwise ``.eml`` files in ``instance/outbox/``."""

import smtplib
import uuid
from email.message import EmailMessage
from pathlib import Path

from flask import current_app


def send(*, to: str, subject: str, body: str) -> None:
    """Send one plain-text message."""
    message = EmailMessage()
    message["From"] = current_app.config["MAIL_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    host = current_app.config.get("SMTP_HOST")
    if host:
        with smtplib.SMTP(host, int(current_app.config["SMTP_PORT"]), timeout=10) as smtp:
            smtp.starttls()
            if current_app.config.get("SMTP_USERNAME"):
                smtp.login(current_app.config["SMTP_USERNAME"], current_app.config["SMTP_PASSWORD"])
            smtp.send_message(message)
        return
    outbox = Path(current_app.config["OUTBOX_DIR"])
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / f"{uuid.uuid4().hex}.eml").write_bytes(bytes(message))


def list_outbox() -> list[dict]:
    """Messages in the development outbox, newest first."""
    from email import policy
    from email.parser import BytesParser

    outbox = Path(current_app.config["OUTBOX_DIR"])
    if not outbox.is_dir():
        return []
    items = []
    for path in sorted(outbox.glob("*.eml"), key=lambda p: p.stat().st_mtime, reverse=True)[:100]:
        msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
        items.append({"to": msg["To"], "subject": msg["Subject"], "body": msg.get_content()})
    return items
