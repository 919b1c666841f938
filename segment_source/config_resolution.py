"""Costs of dlt's configuration resolution and validation, cut: answers that depend on a type alone are
memoized (`is_secret_hint`, a configuration's field count, a TypedDict's type hints), and the runtime
configuration is resolved once per REST API source.

dlt resolves a configuration for every table it normalizes and loads, and asks for each field and config
provider whether the field's type hint is a secret: about 18,000 questions a snapshot, each unwrapping the
hint through `typing` again, a third of the configuration resolution's time (measured with cProfile in dlt
1.31). The answer depends on the hint only, so one per hint is enough; hints that cannot be hashed are
answered as before. Values are never cached:
every resolution still reads the providers (`.dlt/*.toml`, the environment) anew.

Two more answers depend on a class only, and dlt computes them again at every use (about 4,000 and 600 times
a snapshot): how many fields a configuration has (`BaseConfiguration.__len__`, which dlt's container asks
each time it swaps a context, as the truth value of the one it replaces), and the type hints of the
TypedDict that `validate_dict` checks a schema, a table or the REST API source's configuration against
(dlt's own TODO there says the same).

dlt's REST API toolkit builds one `RESTClient` per resource and each resolves the runtime configuration
anew (`dlt.sources.helpers.rest_client.client.RESTClient.__init__`): `one_runtime_configuration` resolves
it once for the resources built inside it, in the same context, and hands that to each client.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Dict, Iterator, Optional, Type

from dlt.common import validation
from dlt.common.configuration import providers, resolve, resolve_configuration
from dlt.common.configuration.providers import environ
from dlt.common.configuration.specs import base_configuration
from dlt.common.configuration.specs.runtime_configuration import RuntimeConfiguration
from dlt.sources import rest_api
from dlt.sources.helpers.rest_client.client import RESTClient

_is_secret_hint_uncached = base_configuration.is_secret_hint
_answers: Dict[Any, bool] = {}


def is_secret_hint(hint: Any) -> bool:
    try:
        return _answers[hint]
    except KeyError:
        answer = _answers[hint] = _is_secret_hint_uncached(hint)
        return answer
    except TypeError:  # an unhashable hint
        return _is_secret_hint_uncached(hint)


for _module in (resolve, environ, providers.vault):
    if getattr(_module, "is_secret_hint", None) is _is_secret_hint_uncached:
        _module.is_secret_hint = is_secret_hint  # type: ignore[attr-defined]


_count_fields_uncached = base_configuration.BaseConfiguration.__len__
_field_counts: Dict[Type[Any], int] = {}


def count_fields(configuration: base_configuration.BaseConfiguration) -> int:
    """`len()` of a configuration: its fields are its class's (`__dataclass_fields__`)."""
    try:
        return _field_counts[type(configuration)]
    except KeyError:
        count = _field_counts[type(configuration)] = _count_fields_uncached(configuration)
        return count


if base_configuration.BaseConfiguration.__len__ is _count_fields_uncached:
    base_configuration.BaseConfiguration.__len__ = count_fields  # type: ignore[method-assign]


_type_hints_uncached = validation.get_type_hints
_type_hints: Dict[Any, Dict[str, Any]] = {}


def type_hints(spec: Any, globalns: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """`get_type_hints` as `validate_dict` calls it: a copy, so no caller can change the memo."""
    key = (spec, id(globalns))
    try:
        return dict(_type_hints[key])
    except KeyError:
        hints = _type_hints[key] = _type_hints_uncached(spec, globalns=globalns)
        return dict(hints)
    except TypeError:  # an unhashable spec
        return _type_hints_uncached(spec, globalns=globalns)


if validation.get_type_hints is _type_hints_uncached:
    validation.get_type_hints = type_hints  # type: ignore[assignment]


_runtime_configuration: ContextVar[Optional[RuntimeConfiguration]] = ContextVar(
    "segment_runtime_configuration", default=None)


class _RESTClient(RESTClient):
    """dlt's client, given the runtime configuration resolved by `one_runtime_configuration` when there is one."""

    def __init__(self, *args: Any, config: Optional[RuntimeConfiguration] = None, **kwargs: Any) -> None:
        super().__init__(*args, config=config or _runtime_configuration.get(), **kwargs)


if rest_api.RESTClient is RESTClient:
    rest_api.RESTClient = _RESTClient  # type: ignore[misc]


@contextmanager
def one_runtime_configuration() -> Iterator[None]:
    """The REST clients dlt builds inside share one runtime configuration, resolved here (so a setting
    changed between two runs of one process is seen by the next)."""
    token = _runtime_configuration.set(resolve_configuration(RuntimeConfiguration()))
    try:
        yield
    finally:
        _runtime_configuration.reset(token)
