"""Reading exported Terraform back: python-hcl2 parses each file, a small interpreter evaluates what the export
writes (strings with HCL escapes, heredocs, `jsonencode`, `trimprefix`, `trimsuffix`, references, variables),
and the reduced provider schema (`fixtures/terraform/`) says what each block may and must hold.

The interpreter is deliberately the test's own: it reads HCL as Terraform would, not as the exporter meant it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Tuple

import hcl2
from hcl2 import SerializationOptions

SCHEMA = json.loads((Path(__file__).parent / "fixtures" / "terraform" / "segment_provider_schema.json").read_text())
OPTIONS = SerializationOptions(with_comments=False, preserve_heredocs=True)
HEREDOC = re.compile(r'^"<<(-?)([A-Za-z_]+)\n(.*)\n\2"$', re.S)
QUOTED_HEREDOC = re.compile(r'"<<-?([A-Za-z_]+)\n(.*?)\n\1"', re.S)
CALL = re.compile(r"^\$\{([a-z_]+)\((.*)\)\}$", re.S)
TRAVERSAL = re.compile(r"^\$\{([A-Za-z_][\w-]*(?:\.[A-Za-z_][\w-]*)+)\}$")
ESCAPE = re.compile(r'\\(u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[nrt"\\])')
SIMPLE = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


@dataclass(frozen=True)
class Reference:
    address: str
    attribute: str


@dataclass(frozen=True)
class Variable:
    name: str


@dataclass(frozen=True)
class JsonEncoded:
    """`jsonencode(value)`: kept apart so a test can tell a JSON-string attribute from a plain object."""

    value: Any


def parse(path: Path) -> Dict[str, Any]:
    return hcl2.loads(path.read_text(encoding="utf-8"), serialization_options=OPTIONS)


def unquote(text: str) -> str:
    inner = ESCAPE.sub(lambda m: SIMPLE.get(m.group(1)) or chr(int(m.group(1)[1:], 16)), text[1:-1])
    return untemplate(inner)


def untemplate(text: str) -> str:
    return text.replace("$${", "${").replace("%%{", "%{")


def evaluate(value: Any) -> Any:
    """A value of python-hcl2's dict form, as Terraform would see it."""
    if isinstance(value, dict):
        return {(unquote(k) if k.startswith('"') else k): evaluate(v) for k, v in value.items()
                if k != "__is_block__"}
    if isinstance(value, list):
        return [evaluate(v) for v in value]
    if not isinstance(value, str):
        return value
    heredoc = HEREDOC.match(value)
    if heredoc:
        return untemplate(heredoc.group(3) + "\n")
    if value.startswith('"') and value.endswith('"'):
        return unquote(value)
    traversal = TRAVERSAL.match(value)
    if traversal:
        parts = traversal.group(1).split(".")
        if parts[0] == "var":
            return Variable(parts[1])
        return Reference(".".join(parts[:2]), ".".join(parts[2:]))
    call = CALL.match(value)
    if call:
        return function(call.group(1), call.group(2))
    raise AssertionError(f"the export wrote an expression the interpreter does not know: {value[:80]}")


def function(name: str, arguments_text: str) -> Any:
    # python-hcl2 shows a heredoc inside an expression as quoted text with raw newlines: make it a string again
    text = QUOTED_HEREDOC.sub(lambda m: json.dumps(m.group(2) + "\n").replace("${", "$${"), arguments_text)
    arguments = evaluate(hcl2.loads(f"arguments = [{text}]", serialization_options=OPTIONS)["arguments"])
    if name == "jsonencode":
        assert len(arguments) == 1
        json.dumps(arguments[0], default=lambda v: None)  # a JSON document, apart from variables
        return JsonEncoded(arguments[0])
    if name == "trimprefix":
        return ("trimprefix", arguments[0], arguments[1])
    if name == "trimsuffix":
        return arguments[0][: -len(arguments[1])] if arguments[0].endswith(arguments[1]) else arguments[0]
    raise AssertionError(f"the export called {name}(), which the interpreter does not know")


@dataclass
class Block:
    file: str
    kind: str
    labels: Tuple[str, ...]
    body: Dict[str, Any]

    @property
    def address(self) -> str:
        return ".".join(self.labels)


def blocks(folder: Path) -> Iterator[Block]:
    for path in sorted(folder.glob("*.tf")):
        document = parse(path)
        for kind, items in document.items():
            for item in items:
                yield from _blocks_of(path.name, kind, item, ())


def _blocks_of(file: str, kind: str, item: Dict[str, Any], labels: Tuple[str, ...]) -> Iterator[Block]:
    if item.get("__is_block__"):
        yield Block(file, kind, labels, item)
        return
    for label, inner in item.items():
        yield from _blocks_of(file, kind, inner, labels + (unquote(label),))


def resources(folder: Path) -> List[Block]:
    return resources_of(blocks(folder))


def resources_of(parsed: Iterable[Block]) -> List[Block]:
    """The resource blocks, their attributes evaluated."""
    return [Block(b.file, b.kind, b.labels, evaluate(b.body)) for b in parsed if b.kind == "resource"]


# --- the provider schema --------------------------------------------------------------------------------------

TYPES = {"string": str, "bool": bool, "number": (int, float)}


def schema_problems(resource_type: str, body: Dict[str, Any]) -> List[str]:
    """What the provider would refuse in a resource block: unknown or read-only attributes, missing required
    ones, wrong types, JSON attributes not written with jsonencode, validators."""
    if resource_type not in SCHEMA["resources"]:
        return [f"{resource_type} is not a resource of the provider"]
    return _problems(SCHEMA["resources"][resource_type]["attributes"], body, resource_type)


def _problems(attributes: Dict[str, Any], body: Dict[str, Any], where: str) -> List[str]:
    problems = []
    for name, value in body.items():
        spec = attributes.get(name)
        if spec is None or not (spec.get("required") or spec.get("optional")):
            problems.append(f"{where}.{name} is not an input of the provider")
        elif spec.get("deprecated"):
            problems.append(f"{where}.{name} is deprecated")
        else:
            problems += _value_problems(spec, value, f"{where}.{name}")
    problems += [f"{where}.{name} is required but missing" for name, spec in attributes.items()
                 if spec.get("required") and name not in body]
    return problems


def _value_problems(spec: Dict[str, Any], value: Any, where: str) -> List[str]:
    if isinstance(value, (Reference, Variable, tuple)):
        return []  # a reference or function of one: its type is the referenced attribute's
    kind = spec["type"]
    if spec.get("json_string"):
        return [] if isinstance(value, JsonEncoded) else [f"{where} holds JSON: write it with jsonencode()"]
    if kind in TYPES:
        if not isinstance(value, TYPES[kind]) or (kind == "number" and isinstance(value, bool)):
            return [f"{where} should be a {kind}, is {value!r:.60}"]
        if spec.get("pattern") and not re.match(spec["pattern"], value):
            return [f"{where} {value!r} does not match {spec['pattern']}"]
        return []
    if kind == "object":
        return _problems(spec["attributes"], value, where) if isinstance(value, dict) else [f"{where} not an object"]
    if not isinstance(value, list):
        return [f"{where} should be a {kind}"]
    problems = []
    if spec.get("max_items") is not None and len(value) > spec["max_items"]:
        problems.append(f"{where} has {len(value)} items, more than {spec['max_items']}")
    if spec.get("min_items") is not None and len(value) < spec["min_items"]:
        problems.append(f"{where} has {len(value)} items, fewer than {spec['min_items']}")
    element = kind[kind.index("(") + 1:-1]
    for index, item in enumerate(value):
        if element == "object":
            problems += _value_problems({"type": "object", "attributes": spec["attributes"]}, item, f"{where}[{index}]")
        else:
            problems += _value_problems({"type": element}, item, f"{where}[{index}]")
    return problems
