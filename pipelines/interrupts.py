"""SIGINT or SIGTERM during a run: the KeyboardInterrupt it stands for, whichever step dlt was in.

dlt stops a normalize or load at the first SIGINT or SIGTERM once its running jobs are done
(`[runtime] intercept_signals`), logs what it left behind, and raises its own signal exception inside a
`PipelineStepFailed`. What it left is a package the next run finishes (recovery.py), so a user needs one
line and the exit code of an interruption, not dlt's shutdown log.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from typing import Iterator

import dlt
from dlt.common.runtime import signals
from dlt.pipeline.exceptions import PipelineStepFailed


@contextmanager
def interrupts_as_keyboard_interrupt() -> Iterator[None]:
    """Raises KeyboardInterrupt for dlt's signal exception; dlt's log lines after a signal are left out."""
    dlt_logger = logging.getLogger(dlt.config.get("runtime.log_name") or "dlt")
    quiet = _SilentAfterSignal()
    dlt_logger.addFilter(quiet)
    try:
        yield
    except PipelineStepFailed as exc:
        if is_interrupt(exc):
            raise KeyboardInterrupt() from exc
        raise
    finally:
        dlt_logger.removeFilter(quiet)


def is_interrupt(exc: BaseException) -> bool:
    # dlt's SignalReceivedException is a KeyboardInterrupt
    return isinstance(exc, PipelineStepFailed) and isinstance(exc.exception, KeyboardInterrupt)


class _SilentAfterSignal(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return not signals.was_signal_received()
