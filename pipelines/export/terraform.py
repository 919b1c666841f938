"""An `Export` as Terraform files for the official Segment provider: providers.tf, variables.tf, one file per
resource type and imports.tf. Generic: every type-specific fact comes from `resources.py`."""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, List

from segment_source.settings import REGION_HOSTS

from . import hcl
from .build import Export, Exported
from .files import MARKER
from .resources import PROVIDER_SOURCE, PROVIDER_VERSION, RESOURCES, TERRAFORM_VERSION


def header(export: Export, what: str) -> str:
    workspace = export.workspace
    return (f"# {MARKER} terraform: {what}\n"
            f"# Workspace {workspace.get('name')} ({workspace['id']}) as of {export.moment.isoformat()}.\n\n")


def providers(export: Export, region: str) -> str:
    url = "" if region == "us" else f"  url = {hcl.quoted(REGION_HOSTS[region])}\n"
    return header(export, "the provider") + (
        "terraform {\n"
        f"  required_version = {hcl.quoted(TERRAFORM_VERSION)}\n"
        "  required_providers {\n"
        "    segment = {\n"
        f"      source  = {hcl.quoted(PROVIDER_SOURCE)}\n"
        f"      version = {hcl.quoted(PROVIDER_VERSION)}\n"
        "    }\n"
        "  }\n"
        "}\n\n"
        "# The token comes from the PUBLIC_API_TOKEN environment variable (it needs write access).\n"
        f'provider "segment" {{\n{url}}}\n'
    )


def variables(export: Export) -> str:
    blocks = [hcl.block("variable", [v.name], [("description", v.description), ("type", hcl.Identifier("string")),
                                               ("sensitive", True)])
              for v in export.variables]
    intro = ("# Secrets the Public API never shows in clear. Give each a value before `terraform apply`:\n"
             "# a *.tfvars file kept out of version control, or TF_VAR_<name> environment variables.\n\n")
    return header(export, "sensitive variables") + intro + "\n".join(blocks)


def resource_block(resource: Exported) -> str:
    comment = "" if resource.exists_now else (
        "Not in the workspace any more: no import block, `terraform apply` creates it again.")
    return hcl.block("resource", [resource.spec.type, resource.name], list(resource.attributes.items()), comment)


def imports(export: Export) -> str:
    blocks, left_out = [], []
    for resource in sorted(export.resources, key=lambda r: r.address):
        if not resource.exists_now:
            left_out.append(f"{resource.address}: not in the workspace any more")
        elif resource.not_importable:
            left_out.append(f"{resource.address}: {resource.not_importable}")
        else:
            blocks.append(hcl.block("import", [], [("to", hcl.Identifier(resource.address)),
                                                   ("id", resource.import_id)]))
    intro = ("# Terraform 1.5+ adopts the resources that still exist, so that `terraform plan` shows what changed\n"
             "# since the exported moment and `terraform apply` puts it back.\n")
    if left_out:
        intro += "#\n# Without an import block (`terraform apply` creates them):\n"
        intro += "".join(f"#   {line}\n" for line in left_out)
    return header(export, "import blocks") + intro + "\n" + "\n".join(blocks)


def terraform_files(export: Export, region: str) -> Dict[str, str]:
    """File name -> content for the whole export."""
    by_type: Dict[str, List[Exported]] = defaultdict(list)
    for resource in export.resources:
        by_type[resource.spec.type].append(resource)
    files = {"providers.tf": providers(export, region), "imports.tf": imports(export)}
    if export.variables:
        files["variables.tf"] = variables(export)
    for spec in RESOURCES:
        resources = sorted(by_type.get(spec.type, []), key=lambda r: r.name)
        if resources:
            notes = "".join(f"# Note: {note}.\n" for note in spec.notes)
            files[f"{spec.file}.tf"] = (header(export, f"{spec.type} ({len(resources)})") + notes
                                        + "\n".join(resource_block(r) for r in resources))
    return files
