"""Two costs of dlt's configuration resolution, cut: `is_secret_hint` memoized, and the runtime configuration
resolved once per REST API source.

dlt resolves a configuration for every table it normalizes and loads, and asks for each field and config
provider whether the field's type hint is a secret: about 18,000 questions a snapshot, each unwrapping the
hint through `typing` again, a third of the configuration resolution's time (measured with cProfile in dlt
1.31). The answer depends on the hint only, so one per hint is enough; hints that cannot be hashed are
answered as before. Values are never cached:
every resolution still reads the providers (`.dlt/*.toml`, the environment) anew.

dlt's REST API toolkit builds one `RESTClient` per resource and each resolves the runtime configuration
anew (`dlt.sources.helpers.rest_client.client.RESTClient.__init__`): `one_runtime_configuration` resolves
it once for the resources built inside it, in the same context, and hands that to each client.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Dict, Iterator, Optional

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
