"""Extraction in a process of its own: the heap the parse of its pages grew leaves with it.

Extraction parses every page in Python, and the heap that parse grows stays with the process that did it
(glibc keeps the pages, fragmentation keeps `malloc_trim` from returning them): DuckDB's load then takes its
own memory on top (BENCHMARKS.md, "Memory, third pass"). On Linux every run forks (a first run has no size
to go by, and a small run pays no measurable time for it). A child forked from the run extracts into the
pipeline's working folder (dlt writes the package, the schemas and the state there) and exits; the run reads
them back from disk and normalizes and loads as before.

What the child learned in memory (the extraction report, identities, request counters) comes back to the run
over a pipe, copied into the run's own objects, and so does a failure: rebuilt as the same exception classes
with the same messages, so that exit codes and messages are those of an extraction in the run itself.

The child is forked under the run lock: it neither holds the lock nor outlives the run (`lock.py`). A
SIGINT stops it (the terminal sends it to both; `extract_in_child` forwards one the run receives itself); a
run killed (or ended by SIGTERM) while its child extracts leaves what a run killed while extracting leaves,
and the next run discards that unfinished extraction (`recovery.py`).
"""

from __future__ import annotations

import gc
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Sequence, Tuple

import dlt
from dlt.common.runners.pool_runner import is_orchestrator

from .errors import causes

# how long a child signalled because the run was interrupted may take to stop before it is killed
STOP_GRACE_SECONDS = 10.0
_SYNC_TYPES = (type(threading.Lock()), type(threading.RLock()), threading.Condition, threading.Event)


class _ThePipeline:
    """Stands for the run's pipeline in a failure the child sends back."""


@dataclass(frozen=True)
class _Cause:
    """Stands for another exception of the failure's chain (its position in it)."""

    position: int


class ExtractionProcessDied(RuntimeError):
    """The extraction process ended without saying how its extraction went (killed, or out of memory)."""


def can_fork() -> bool:
    """Linux, on the main thread, and not inside an orchestrator's task: a forked child has only the thread
    that forked, and an orchestrator answers dlt's configuration through threads of its own (under Airflow the
    child waited forever on a Variable read). dlt's own pools follow the same rule (`get_default_start_method`)."""
    return (hasattr(os, "fork") and sys.platform.startswith("linux")
            and threading.current_thread() is threading.main_thread() and not is_orchestrator())


def extract_in_child(pipeline: dlt.Pipeline, extract: Callable[[], List[str]], carried: Sequence[object]) -> List[str]:
    """Runs `extract` (it returns the load ids it extracted) in a forked child and returns what it returned.
    Each object of `carried` gets the attributes the child's copy of it ended with; the child's failure is
    raised here. The pipeline's schemas and state are read back from its working folder."""
    read_end, write_end = os.pipe()
    # the child's garbage collector never visits what it inherits: collecting an inherited DuckDB connection
    # left in a reference cycle runs its finalizer against DuckDB's state in the parent, which aborts the child
    gc.freeze()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        _run_child(write_end, pipeline, extract, carried)
    gc.unfreeze()
    os.close(write_end)
    try:
        with os.fdopen(read_end, "rb") as pipe:
            message = pipe.read()
    except BaseException:
        _stop(pid)
        raise
    if not message:
        status = os.waitpid(pid, 0)[1]
        raise ExtractionProcessDied(f"The extraction process ended without a result ({_describe(status)}); the"
                                    " next run starts cleanly.")
    # the child has sent everything and is exiting: the run goes on while the kernel takes its memory back
    threading.Thread(target=os.waitpid, args=(pid, 0), name="extraction-reaper", daemon=True).start()
    _reread_from_disk(pipeline)
    outcome, result, states = pickle.loads(message)
    for target, state in zip(carried, states):
        vars(target).update(state)
    if outcome == "failed":
        raise _rebuilt(result, pipeline)
    return result


def _run_child(write_end: int, pipeline: dlt.Pipeline, extract: Callable[[], List[str]],
               carried: Sequence[object]) -> None:
    code = 0
    try:
        try:
            message: Tuple[str, Any] = ("extracted", extract())
        except BaseException as exc:  # noqa: BLE001 - the run raises it
            message = ("failed", _portable(exc, pipeline))
        data = pickle.dumps((*message, [_state(target, carried) for target in carried]))
        with os.fdopen(write_end, "wb") as pipe:
            pipe.write(data)
    except BaseException:  # noqa: BLE001 - the run sees no result and says so
        code = 1
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:  # noqa: BLE001 - a closed stream has nothing to flush
                pass
        os._exit(code)  # the run's exit handlers (and its destination's) are the run's, not this copy's


def _state(target: object, carried: Sequence[object]) -> Dict[str, Any]:
    """The attributes of `target` that are data: its locks, callables and references to other carried
    objects stay the parent's."""
    return {name: value for name, value in vars(target).items()
            if not (isinstance(value, _SYNC_TYPES) or callable(value) or any(value is other for other in carried))}


def _stop(pid: int) -> None:
    """The run was interrupted while its child extracts: the child is interrupted too, and reaped."""
    try:
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while time.monotonic() < deadline:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
            time.sleep(0.05)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass  # already reaped
    except ProcessLookupError:
        pass


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"ended by signal {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit status {os.waitstatus_to_exitcode(status)}"


def _reread_from_disk(pipeline: dlt.Pipeline) -> None:
    """The child saved the pipeline's schemas and state: this process's copies are older. dlt reads its state
    from disk at each step but keeps schemas in memory ("live") and its state's properties (such as the
    default schema's name) on the pipeline object; normalize reads both without reading the state again."""
    pipeline._schema_storage.live_schemas.clear()
    pipeline._state_to_props(pipeline._get_state())


def _portable(exc: BaseException, pipeline: dlt.Pipeline) -> Dict[str, Any]:
    """The exception and its causes as data that pickles: class, arguments and attributes of each, where the
    pipeline and the other exceptions of the chain are named rather than copied."""
    chain = causes(exc)
    return {"chain": [_portable_one(cause, chain, pipeline) for cause in chain],
            "traceback": "".join(traceback.format_exception(exc))}


def _portable_one(exc: BaseException, chain: List[BaseException], pipeline: dlt.Pipeline) -> Tuple[Any, ...]:
    attributes: Dict[str, Any] = {}
    for name, value in vars(exc).items():
        if value is pipeline:
            attributes[name] = _ThePipeline()
        elif any(value is cause for cause in chain):
            attributes[name] = _Cause(next(i for i, cause in enumerate(chain) if cause is value))
        else:
            attributes[name] = value if _pickles(value) else None
    if _pickles(type(exc)) and _pickles(exc.args):
        return type(exc), exc.args, attributes
    return RuntimeError, (f"{type(exc).__name__}: {exc}",), {}


def _rebuilt(portable: Dict[str, Any], pipeline: dlt.Pipeline) -> BaseException:
    chain: List[BaseException] = []
    for cls, args, _ in portable["chain"]:
        exc = cls.__new__(cls)
        exc.args = args
        chain.append(exc)
    for exc, (_, _, attributes) in zip(chain, portable["chain"]):
        for name, value in attributes.items():
            if isinstance(value, _ThePipeline):
                value = pipeline
            elif isinstance(value, _Cause):
                value = chain[value.position]
            setattr(exc, name, value)
    for exc, cause in zip(chain, chain[1:]):
        exc.__cause__ = cause
    chain[0].add_note("In the extraction process:\n" + portable["traceback"])
    return chain[0]


def _pickles(value: Any) -> bool:
    try:
        pickle.dumps(value)
    except Exception:  # noqa: BLE001 - whatever pickle refuses
        return False
    return True
