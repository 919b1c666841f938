"""HCL text from plain values: the generic writer the Terraform export uses for every file.

Values are Python data (str, int, float, bool, None, list, dict) plus four kinds of expression: `Ref` (an
attribute of another resource, `segment_source.web.id`), `Var` (`var.name`), `Call` (a function call,
`jsonencode({...})`) and `Identifier` (a bare name). Strings are escaped for HCL templates (`${` and `%{` are
doubled), multi-line attribute values (code, SQL) become heredocs, and the `=` signs of consecutive one-line
attributes are aligned as `terraform fmt` does.

Written by hand rather than with python-hcl2's `dumps`: that one takes expressions as HCL source text (so
quoting, escaping and `jsonencode` arguments would be ours anyway) and re-parses each one, which took 18 s
for a single tracking plan of 2,000 rules. The tests parse everything written here with python-hcl2.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any, List, Sequence, Tuple

INDENT = "  "
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
KEYWORDS = {"true", "false", "null", "for", "in", "if", "endfor", "endif", "else"}
ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}
# an inline list or object longer than this goes on several lines
INLINE_WIDTH = 100


@dataclass(frozen=True)
class Ref:
    """`segment_source.web.id`: an attribute of a resource the same configuration declares."""

    address: str
    attribute: str = "id"


@dataclass(frozen=True)
class Var:
    name: str


@dataclass(frozen=True)
class Identifier:
    """A bare name: a type (`string`) or a resource address (`segment_source.web` in an import block)."""

    name: str


@dataclass(frozen=True)
class Call:
    function: str
    arguments: Tuple[Any, ...]


def jsonencode(value: Any) -> Call:
    return Call("jsonencode", (value,))


def quoted(text: str) -> str:
    escaped = "".join(ESCAPES.get(c, c if c >= " " else f"\\u{ord(c):04x}") for c in text)
    return '"' + template_safe(escaped) + '"'


def template_safe(text: str) -> str:
    """`${` and `%{` start interpolations and directives in any HCL string: doubled, they stand for themselves."""
    return text.replace("${", "$${").replace("%{", "%%{")


def key(name: str) -> str:
    return name if IDENTIFIER.match(name) and name not in KEYWORDS else quoted(name)


def heredoc(text: str, level: int) -> str:
    """A multi-line string as `<<EOT`. A heredoc always ends with a newline; text without one is trimmed back."""
    marker = "EOT"
    while marker in text.splitlines():
        marker += "_"
    if text.endswith("\n"):
        return f"<<{marker}\n{template_safe(text)}{marker}"
    return f'trimsuffix(<<{marker}\n{template_safe(text)}\n{marker}\n{INDENT * level}, "\\n")'


def attribute_value(value: Any, level: int) -> str:
    """An attribute's value: like `expression`, but a multi-line string (code, SQL) reads as a heredoc."""
    if isinstance(value, str) and "\n" in value.rstrip("\n"):
        return heredoc(value, level)
    return expression(value, level)


def expression(value: Any, level: int = 0) -> str:
    """The HCL expression for `value`, laid out for a line indented `level` times."""
    if isinstance(value, Ref):
        return f"{value.address}.{value.attribute}"
    if isinstance(value, Var):
        return f"var.{value.name}"
    if isinstance(value, Identifier):
        return value.name
    if isinstance(value, Call):
        return f"{value.function}({', '.join(expression(a, level) for a in value.arguments)})"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return json.dumps(value)
    if isinstance(value, str):
        return quoted(value)
    if isinstance(value, dict):
        return _object(value, level)
    if isinstance(value, (list, tuple)):
        return _list(value, level)
    raise TypeError(f"cannot write {type(value).__name__} as HCL")


def _list(items: Sequence[Any], level: int) -> str:
    if not items:
        return "[]"
    parts = [expression(item, level + 1) for item in items]
    inline = "[" + ", ".join(parts) + "]"
    if "\n" not in inline and len(inline) <= INLINE_WIDTH:
        return inline
    inner = INDENT * (level + 1)
    return "[\n" + "".join(f"{inner}{part},\n" for part in parts) + INDENT * level + "]"


def _object(items: dict, level: int) -> str:
    if not items:
        return "{}"
    pairs = [(key(str(k)), v) for k, v in items.items()]
    if all(_scalar(v) for v in items.values()):
        inline = "{ " + ", ".join(f"{name} = {expression(v, level)}" for name, v in pairs) + " }"
        if len(inline) <= INLINE_WIDTH // 2 and "\n" not in inline:
            return inline
    lines = assignments(pairs, level + 1)
    return "{\n" + "".join(line + "\n" for line in lines) + INDENT * level + "}"


def _scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list, tuple, Call))


def assignments(pairs: Sequence[Tuple[str, Any]], level: int, heredocs: bool = False) -> List[str]:
    """`name = value` lines at `level`, the `=` of neighbouring one-line values aligned."""
    write = attribute_value if heredocs else expression
    rendered = [(name, write(value, level)) for name, value in pairs]
    lines: List[str] = []
    run: List[Tuple[str, str]] = []

    def flush() -> None:
        width = max((len(name) for name, _ in run), default=0)
        lines.extend(f"{INDENT * level}{name.ljust(width)} = {text}" for name, text in run)
        run.clear()

    for name, text in rendered:
        if "\n" in text:
            flush()
            lines.append(f"{INDENT * level}{name} = {text}")
        else:
            run.append((name, text))
    flush()
    return lines


def block(kind: str, labels: Sequence[str], body: Sequence[Tuple[str, Any]], comment: str = "") -> str:
    """`kind "label" ... { body }`, preceded by `# comment` lines when there is one."""
    head = " ".join([kind, *(quoted(label) for label in labels)])
    lines = [f"# {line}".rstrip() for line in comment.splitlines()]
    lines += [head + " {", *assignments(body, 1, heredocs=True), "}"]
    return "\n".join(lines) + "\n"
