"""Secrets kept out of messages: one registry of the values in use, and one `scrub` every message passes.

Whatever holds a secret registers it (the source its access token, the row shaping each source write key,
the command line the secret settings of its configuration, the notification sinks their URLs, keys and
headers), and `scrub` replaces every registered value with `***` in a message. Patterns catch what was never
registered: a bearer token, the password of a URL, a secret-looking query parameter.
`scrub_log_records` (installed by the first `register`) applies `scrub` to every log record the process
creates, tracebacks included.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from typing import Any, Optional, Set

import dlt
import tomlkit

MASK = "***"
# shorter values are not secrets worth the damage of replacing them in every message
MIN_SECRET_LENGTH = 8
# a Segment token is visible ASCII, nothing else: anything else was pasted along with it
TOKEN_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")
# a configured value is a secret when its key says so (`access_token`, `password`, `credentials` as a connection
# string, a webhook URL); `username`, `host`, `bucket_url` or `dataset_name` beside them are not (a URL's
# password is masked wherever it appears, registered or not)
SECRET_KEY = re.compile(r"token|secret|passw|credential|private_key|access_key|api_key|write_key|webhook|dsn",
                        re.I)
PATTERNS = (
    re.compile(r"(?i)(\bbearer\s+)[^\s'\",;]+"),
    re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(?=@)"),  # scheme://user:password@host
    re.compile(r"(?i)([?&](?:[a-z_]*token|password|passwd|secret|[a-z_]*key|sig|signature)=)[^&\s'\"]+"),
)

_registered: Set[str] = set()
_lock = threading.Lock()


def register(*values: Any) -> None:
    """Marks `values` as secrets: no message this process prints or logs will contain them."""
    with _lock:
        # stripped: the value as it appears in a message is at least that
        _registered.update(v.strip() for v in values if isinstance(v, str) and len(v.strip()) >= MIN_SECRET_LENGTH)
    scrub_log_records()  # also when the package is used from Python, without the command line


def register_secret_settings(value: Any, key: str = "") -> None:
    """The values inside a configuration table (nested tables and lists) whose key names a secret."""
    if isinstance(value, dict):
        for name, item in value.items():
            register_secret_settings(item, str(name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            register_secret_settings(item, key)
    elif SECRET_KEY.search(key):
        register(value)


def register_configured_secrets() -> None:
    """The secret settings of dlt's secrets files (`.dlt/secrets.toml`) and of the environment
    (`SEGMENT_ACCESS_TOKEN`, `DESTINATION__POSTGRES__CREDENTIALS`, `...__PASSWORD`)."""
    for provider in dlt.secrets.config_providers:
        if hasattr(provider, "to_toml"):
            register_secret_settings(tomlkit.parse(provider.to_toml()).unwrap())
    register_secret_settings({name.split("__")[-1]: value for name, value in os.environ.items()})


def scrub(text: str) -> str:
    with _lock:
        secrets = sorted(_registered, key=len, reverse=True)  # a secret containing another goes first
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    for pattern in PATTERNS:
        text = pattern.sub(lambda match: match.group(1) + MASK, text)
    return text


def usable_token(value: Optional[str]) -> Optional[str]:
    """The access token without the whitespace a paste or a multi-line TOML string adds around it,
    registered as a secret. A token with whitespace or control characters inside is refused, in a
    message that does not quote it."""
    if value is None:
        return None
    register(value, *value.split())
    token = value.strip()
    if token and not TOKEN_CHARACTERS.match(token):
        raise ValueError(
            "The Segment access token contains spaces, line breaks or other characters a token cannot have:"
            " copy it again into SEGMENT_ACCESS_TOKEN, sources.segment.access_token or the"
            " sources.segment.workspaces entry."
        )
    return token


def scrub_log_records() -> None:
    """Every log record created from now on, by any logger, carries scrubbed text (once per process)."""
    create = logging.getLogRecordFactory()
    if getattr(create, "scrubs", False):
        return

    def scrubbed_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = create(*args, **kwargs)
        _scrub_record(record)
        return record

    scrubbed_record.scrubs = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(scrubbed_record)


def _scrub_record(record: logging.LogRecord) -> None:
    try:
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed call logs its raw parts, as logging itself would
        message = f"{record.msg} {record.args}"
    record.msg, record.args = scrub(message), ()
    if record.exc_info and record.exc_info[0] is not None:
        # the formatter prints exc_text when it is set, instead of formatting the traceback again
        record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
    if record.stack_info:
        record.stack_info = scrub(record.stack_info)
