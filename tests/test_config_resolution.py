"""The shortcuts in dlt's configuration resolution (`segment_source.config_resolution`) answer what dlt
would: a memoized `is_secret_hint` agrees with dlt's own on every kind of hint, so do a configuration's field
count and a TypedDict's type hints, and the runtime configuration the REST clients share is resolved again
for each source build, so a setting changed in between is seen."""

from __future__ import annotations

from typing import Dict, List, Literal, Optional

from dlt.common.configuration.specs import ConnectionStringCredentials, CredentialsConfiguration
from dlt.common.configuration.specs import base_configuration
from dlt.common.typing import Annotated, SecretSentinel, TSecretStrValue
from dlt.sources import rest_api

from segment_source import config_resolution
from segment_source.config_resolution import is_secret_hint, one_runtime_configuration

HINTS = [str, int, Optional[str], TSecretStrValue, Optional[TSecretStrValue], Annotated[str, SecretSentinel],
         Annotated[Optional[List[str]], SecretSentinel], CredentialsConfiguration, ConnectionStringCredentials,
         Optional[ConnectionStringCredentials], List[str], Dict[str, int], Literal["a", "b"]]


def test_memoized_is_secret_hint_answers_as_dlt_does_twice():
    for hint in HINTS:
        expected = config_resolution._is_secret_hint_uncached(hint)
        assert is_secret_hint(hint) == expected == is_secret_hint(hint), hint


def test_an_unhashable_hint_is_answered_without_the_memo():
    unhashable = Literal[{"not": "hashable"}]  # type: ignore[valid-type]
    assert is_secret_hint(unhashable) == config_resolution._is_secret_hint_uncached(unhashable)


def test_dlt_resolves_through_the_memo():
    from dlt.common.configuration import resolve
    from dlt.common.configuration.providers import environ

    assert resolve.is_secret_hint is environ.is_secret_hint is is_secret_hint
    assert base_configuration.is_secret_hint is config_resolution._is_secret_hint_uncached


def test_each_source_build_resolves_the_runtime_configuration_again(monkeypatch):
    monkeypatch.setenv("RUNTIME__HTTP_MAX_ERROR_BODY_LENGTH", "111")
    with one_runtime_configuration():
        first = [rest_api.RESTClient(base_url="http://127.0.0.1:9/") for _ in range(3)]
    assert {client._config.http_max_error_body_length for client in first} == {111}
    assert first[0]._config is first[1]._config, "one resolution for the clients of one build"

    monkeypatch.setenv("RUNTIME__HTTP_MAX_ERROR_BODY_LENGTH", "222")
    with one_runtime_configuration():
        second = rest_api.RESTClient(base_url="http://127.0.0.1:9/")
    assert second._config.http_max_error_body_length == 222

    monkeypatch.setenv("RUNTIME__HTTP_MAX_ERROR_BODY_LENGTH", "333")
    outside = rest_api.RESTClient(base_url="http://127.0.0.1:9/")
    assert outside._config.http_max_error_body_length == 333, "outside a build each client resolves its own"


def test_a_configurations_field_count_is_dlts_own_for_each_class():
    from dlt.common.configuration.specs import ConfigSectionContext, RuntimeConfiguration
    from dlt.destinations.impl.duckdb.configuration import DuckDbClientConfiguration

    for configuration in (ConfigSectionContext(), RuntimeConfiguration(), DuckDbClientConfiguration(),
                          ConnectionStringCredentials(), ConfigSectionContext(sections=("sources",))):
        expected = config_resolution._count_fields_uncached(configuration)
        assert len(configuration) == expected == len(configuration), type(configuration)
        assert bool(configuration) is (expected > 0)


def test_validate_dict_reads_the_type_hints_through_the_memo():
    import sys
    from dlt.common import validation
    from dlt.common.schema.typing import TStoredSchema, TTableSchema

    assert validation.get_type_hints is config_resolution.type_hints
    for spec in (TStoredSchema, TTableSchema):
        globalns = sys.modules[spec.__module__].__dict__
        expected = config_resolution._type_hints_uncached(spec, globalns=globalns)
        first = config_resolution.type_hints(spec, globalns=globalns)
        assert first == expected == config_resolution.type_hints(spec, globalns=globalns)
        first.clear()
        assert config_resolution.type_hints(spec, globalns=globalns) == expected, "callers get a copy"


def test_dlt_counts_fields_through_the_memo():
    assert base_configuration.BaseConfiguration.__len__ is config_resolution.count_fields
