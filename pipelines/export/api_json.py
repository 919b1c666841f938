"""An `Export` as Public API requests, for teams without Terraform (`--format json`): per resource type a
`<file>.json` listing, for each resource, the request that creates it with the body in the API's field names.

The same attribute values as the Terraform files, read the API's way: references become the ids they point at
(the ids of the exported moment: a re-created parent gets a new one), `jsonencode(...)` becomes the object
itself, and a secret becomes `null`, its path listed under `secrets` (the API never showed it in clear).
"""

from __future__ import annotations

import json
from collections import defaultdict
from typing import Any, Dict, List

from .build import Export, Exported
from .files import MARKER
from .hcl import Call, Identifier, Ref, Var
from .resources import RESOURCES

# provider attribute -> API field where the API does not simply spell it in camelCase
API_NAMES = {"metadata": "metadataId", "reverse_etl_schedule": "reverseETLSchedule"}


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(word.title() for word in rest)


class Reader:
    def __init__(self, export: Export) -> None:
        self.by_address = {resource.address: resource for resource in export.resources}

    def value(self, value: Any, path: str, secrets: List[str]) -> Any:
        if isinstance(value, Ref):
            target = self.by_address[value.address]
            return target.id if value.attribute == "id" else target.attributes[value.attribute]
        if isinstance(value, Var):
            secrets.append(path)
            return None
        if isinstance(value, Call):
            arguments = [self.value(a, path, secrets) for a in value.arguments]
            if value.function == "trimprefix":
                return arguments[0].removeprefix(arguments[1])
            return arguments[0]  # jsonencode: the API takes the object itself
        if isinstance(value, Identifier):
            return value.name
        if isinstance(value, dict):
            return {k: self.value(v, f"{path}.{k}", secrets) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v, f"{path}.{i}", secrets) for i, v in enumerate(value)]
        return value

    def body(self, attributes: Dict[str, Any], secrets: List[str], path: str = "") -> Dict[str, Any]:
        body = {}
        for name, value in attributes.items():
            field = API_NAMES.get(name, camel(name))
            where = f"{path}{field}"
            if name == "metadata":
                body[field] = self.value(value["id"], where, secrets)
            elif isinstance(value, dict):
                body[field] = self.body(value, secrets, where + ".")
            elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
                body[field] = [self.body(v, secrets, f"{where}.{i}.") for i, v in enumerate(value)]
            else:
                body[field] = self.value(value, where, secrets)
        return body

    def request(self, resource: Exported) -> Dict[str, Any]:
        secrets: List[str] = []
        body = self.body(resource.attributes, secrets)
        method, path = resource.spec.api
        return {"address": resource.address, "id": resource.id, "exists_now": resource.exists_now,
                "request": {"method": method, "path": path.format(**resource.row), "body": body},
                "secrets": secrets}


def json_files(export: Export) -> Dict[str, str]:
    reader = Reader(export)
    by_type: Dict[str, List[Exported]] = defaultdict(list)
    for resource in export.resources:
        by_type[resource.spec.type].append(resource)
    files = {}
    for spec in RESOURCES:
        resources = sorted(by_type.get(spec.type, []), key=lambda r: r.name)
        if resources:
            document: Dict[str, Any] = {
                "_comment": f"{MARKER} --format json: {spec.type} of workspace {export.workspace['id']}"
                            f" as of {export.moment.isoformat()}",
                "resource_type": spec.type, "notes": list(spec.notes + spec.api_notes),
                "resources": [reader.request(resource) for resource in resources]}
            files[f"{spec.file}.json"] = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    return files

