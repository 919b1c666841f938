"""Restore from history: the workspace as of a moment, written as Terraform for the official Segment provider
(`segment-history export terraform`) or as Public API requests (`--format json`).

    resources.py  one entry per provider resource type: table, attributes, references, import id, validators
    makers.py     the vocabulary those entries are written in (columns, references, settings with secrets)
    build.py      rows at the moment -> named resources with their attribute values, variables, warnings
    hcl.py        values -> HCL text;  terraform.py / api_json.py  the files;  files.py  writing them
    command.py    the command line
"""
