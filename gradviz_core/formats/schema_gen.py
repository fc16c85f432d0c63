"""The JSON Schema of the graph file's ``data`` and ``training`` sections, generated from their
declarations (``data.spec`` and ``settings``), so that the schema says what the checks do.

    python -m gradviz_core.formats.schema_gen      # rewrites gradviz_core/schema/graph.schema.json

A test fails when the file in the repo and the declarations disagree.
"""
from __future__ import annotations

import json
from pathlib import Path

from gradviz_core.data.spec import AUGMENT, COUNTED, PIPELINE, SOURCES
from gradviz_core.params import ParamSpec
from gradviz_core.model.settings import TRAINING

SCHEMA_FILE = Path(__file__).resolve().parents[1] / "schema" / "graph.schema.json"


def spec_schema(spec: ParamSpec) -> dict:
    kind = spec.kind
    if kind in ("int", "float"):
        out: dict = {"type": "integer" if kind == "int" else "number"}
        if spec.low is not None:
            out["minimum"] = spec.low
        if spec.high is not None:
            out["maximum"] = spec.high
    elif kind == "bool":
        out = {"type": "boolean"}
    elif kind == "choice":
        out = {"enum": list(spec.choices)}
    elif kind == "str":
        out = {"type": "string"}
    elif kind == "names":
        out = {"anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}]}
    elif kind == "ints":
        item = {"type": "integer", **({"minimum": spec.low} if spec.low is not None else {})}
        out = {"type": "array", "items": item}  # a file writes a list; typed text is the forms' business
    elif kind == "floats":
        out = {"anyOf": [{"type": "number"}, {"type": "array", "items": {"type": "number"}}]}
    else:  # tensor
        out = {"type": ["number", "array"]}
    out["description"] = spec.doc + " (null: the default)"
    return {"anyOf": [{k: v for k, v in out.items() if k != "description"}, {"type": "null"}],
            "description": out["description"]}


def training_schema() -> dict:
    return {"type": "object", "additionalProperties": False,
            "description": "training settings; each is optional and has a default",
            "properties": {s.name: spec_schema(s) for s in TRAINING}}


def data_defs() -> dict:
    """Settings that every source takes, defined once and referenced by each source."""
    defs = {f"data_{s.name}": spec_schema(s) for s in PIPELINE}
    defs["data_augment"] = {"type": "object", "additionalProperties": False,
                            "description": "augmentation (images)",
                            "properties": {s.name: spec_schema(s) for s in AUGMENT}}
    defs["data_keep"] = {"type": "array", "items": {"type": "integer", "minimum": 0}, "minItems": 1,
                         "description": "the classes to keep, relabelled 0, 1, …"}
    return defs


def data_schema() -> dict:
    shared = {name[len("data_"):]: {"$ref": f"#/$defs/{name}"} for name in data_defs() if name != "data_keep"}
    keep = {"$ref": "#/$defs/data_keep"}
    variants = []
    for source, (doc, specs, required) in SOURCES.items():
        props: dict = {"source": {"const": source, "description": doc}}
        props.update({s.name: spec_schema(s) for s in specs})
        props.update(shared)
        props["classes"] = {"anyOf": [props["classes"], keep]} if source in COUNTED else keep
        variants.append({"type": "object", "required": ["source", *required], "properties": props,
                         "additionalProperties": False})
    return {"description": "where the Input and Target nodes get their samples",
            "oneOf": [{"type": "null"}, *variants]}


def generated() -> dict:
    doc = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    doc["properties"]["data"] = data_schema()
    doc["properties"]["training"] = training_schema()
    doc["$defs"] = data_defs()
    return doc


def write() -> None:
    SCHEMA_FILE.write_text(json.dumps(generated(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    write()
    print(f"wrote {SCHEMA_FILE}")
