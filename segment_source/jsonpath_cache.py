"""Memoizes dlt's JSONPath compilation.

dlt compiles the same few path strings (`data.sources`, `data.pagination.next`, `id`...) once per resource
and paginator with jsonpath_ng's parser generator, about 45-90 ms per call: over a few dozen resources
that is more than a second of every run. Compiled paths are never mutated, so one per string is enough.
"""

from functools import lru_cache

from dlt.common import jsonpath
from jsonpath_ng import JSONPath

_compile_uncached = jsonpath.compile_path


@lru_cache(maxsize=1024)
def _compile_string(path: str) -> JSONPath:
    return _compile_uncached(path)


def compile_path(path: jsonpath.TJsonPath) -> JSONPath:
    return path if isinstance(path, JSONPath) else _compile_string(path)


if jsonpath.compile_path is _compile_uncached:
    jsonpath.compile_path = compile_path
