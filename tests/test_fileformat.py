"""Graph files: round trips, clear messages for broken files, migrations, atomic saves."""
import json
import os

import numpy as np
import pytest

from gradviz_core import GraphFileError
from gradviz_core.model import fileformat


def doc(**over):
    d = {"format": "gradviz-graph", "version": 1, "nodes": [
        {"name": "x", "type": "Constant", "params": {"value": 2.0}, "pos": [0, 0]},
        {"name": "e", "type": "Exp", "pos": [100, 0]}],
         "edges": [{"from": "x", "to": "e", "port": "x"}]}
    d.update(over)
    return d


def test_round_trip_keeps_everything(examples_dir, tmp_path):
    for path in sorted(examples_dir.glob("*.json")):
        g = fileformat.load(path)
        out = tmp_path / path.name
        fileformat.save(g, out)
        again = fileformat.load(out)
        assert fileformat.to_dict(again) == fileformat.to_dict(g)
        assert again.note == g.note and again.note.startswith("# ")
        assert [again.pos(n) for n in again.nodes()] == [g.pos(n) for n in g.nodes()]


def test_weights_round_trip_through_npz(examples_dir, tmp_path):
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    g.build()
    g.brick("fc1").weights["W"] += 1.0
    fileformat.save(g, tmp_path / "m.json", with_weights=True)
    name = json.loads((tmp_path / "m.json").read_text())["weights"]
    assert name.startswith("m.weights.") and name.endswith(".npz")
    again = fileformat.load(tmp_path / "m.json")
    np.testing.assert_array_equal(again.brick("fc1").weights["W"], g.brick("fc1").weights["W"])


@pytest.mark.parametrize("text,message", [
    ('{"format": "gradviz-graph", "version": 1, "nodes": [', "line 1, column 53: not valid JSON"),
    ('{"format": "gradviz-graph", "version": 1, "nodes": [', "(the file looks truncated)"),
    ("[1, 2]", "the top level must be a JSON object, not an array"),
    ('{"format": "other"}', 'not a gradviz graph file ("format" should be "gradviz-graph", got \'other\')'),
    (json.dumps(doc(version=9)), "written by a newer gradviz (file version 9)"),
    (json.dumps(doc(version="1")), '"version" must be a whole number ≥ 1, got \'1\''),
    (json.dumps(doc(nodes="x")), "g.json: nodes: 'x' is not of type 'array'"),
    (json.dumps(doc(edges=[{"from": "x", "to": "e"}])), "edges[0]: 'port' is a required property"),
    (json.dumps(doc(nodes=[{"name": "x", "type": "Constant", "pos": [0, "a"]}])), "nodes[0].pos[1]: 'a' is not of type 'number'"),
    (json.dumps(doc(nodes=[{"name": "a b", "type": "Exp"}])), "nodes[0].name: 'a b' does not match"),
    (json.dumps(doc(nodes=[{"name": "x", "type": "Lineer"}])), "nodes[0] (x): unknown brick type 'Lineer'; did you mean Linear?"),
    (json.dumps(doc(nodes=[{"name": "x", "type": "Linear", "params": {"units": -3}}])),
     "nodes[0] (x): parameter 'units' must be ≥ 1 and ≤ 100000, got -3"),
    (json.dumps(doc(nodes=[{"name": "x", "type": "Constant", "params": {"value": [[1, 2], [3]]}}])),
     "nodes[0] (x): parameter 'value' must be a number or a nested list of numbers"),
    (json.dumps(doc(edges=[{"from": "x", "to": "nope", "port": "x"}])), "edges[0] (x → nope.x): there is no node named 'nope'"),
    (json.dumps(doc(edges=[{"from": "x", "to": "e", "port": "x"}, {"from": "e", "to": "x", "port": "x"}])),
     "edges[1] (e → x.x): x has no input port 'x'"),
])
def test_broken_files_give_one_clear_message(tmp_path, text, message):
    path = tmp_path / "g.json"
    path.write_text(text)
    with pytest.raises(GraphFileError) as err:
        fileformat.load(path)
    assert message in str(err.value)
    assert str(err.value).startswith(str(path))
    assert "\n" not in str(err.value)


def test_cycle_in_a_file_is_named(tmp_path):
    d = doc(nodes=[{"name": "a", "type": "Exp"}, {"name": "b", "type": "Exp"}],
            edges=[{"from": "a", "to": "b", "port": "x"}, {"from": "b", "to": "a", "port": "x"}])
    with pytest.raises(GraphFileError, match=r"edges\[1\] \(b → a.x\): connecting b → a would close a cycle a → b → a"):
        fileformat.loads(json.dumps(d))


def test_missing_file_and_binary_file(tmp_path):
    with pytest.raises(GraphFileError, match="no such file"):
        fileformat.load(tmp_path / "nope.json")
    (tmp_path / "bin.json").write_bytes(b"\x89PNG\x00\xff")
    with pytest.raises(GraphFileError, match="not a text file"):
        fileformat.load(tmp_path / "bin.json")


def test_bad_weights_files(examples_dir, tmp_path):
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    (tmp_path / "w.npz").write_bytes(b"not a zip")
    with pytest.raises(GraphFileError, match="w.npz: not a weights file"):
        fileformat.load_weights(g, tmp_path / "w.npz")
    np.savez(tmp_path / "w2.npz", **{"fc1/W": np.zeros((3, 3))})
    with pytest.raises(GraphFileError, match=r"fc1/W has shape \(3, 3\) but the graph needs \(2, 16\)"):
        fileformat.load_weights(g, tmp_path / "w2.npz")


def test_older_versions_are_migrated_step_by_step(monkeypatch):
    # Pretend the current format is 3: version 1 named edge ports "input", version 2 had no title.
    def v1_to_v2(d):
        d["edges"] = [{"from": e["from"], "to": e["to"], "port": e.pop("input")} for e in d["edges"]]
        return d

    def v2_to_v3(d):
        d.setdefault("title", "migrated")
        return d

    monkeypatch.setattr(fileformat, "VERSION", 3)
    monkeypatch.setattr(fileformat, "MIGRATIONS", {1: v1_to_v2, 2: v2_to_v3})
    old = doc(edges=[{"from": "x", "to": "e", "input": "x"}])
    g = fileformat.from_dict(old)
    assert g.title == "migrated" and g.source_of("e", "x") == "x"


@pytest.mark.parametrize("with_weights", [False, True])
def test_save_is_atomic_and_a_full_disk_is_said_leaving_nothing(tmp_path, monkeypatch, examples_dir, with_weights):
    import errno

    from gradviz_core.fsio import OutputError
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    g.build(np.float64)
    target = tmp_path / "c.json"
    fileformat.save(g, target, with_weights=with_weights)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    real = os.replace

    def full(src, dst):  # the weights go in; the disk is full by the time the graph file comes
        if str(dst).endswith(".json"):
            raise OSError(errno.ENOSPC, "No space left on device")
        real(src, dst)

    monkeypatch.setattr(os, "replace", full)
    g.title = "changed"
    g.brick("fc1").weights["W"] = g.brick("fc1").weights["W"] + 1  # new weights: a new weights file
    with pytest.raises(OutputError, match=r"c.json: cannot be written \(the disk is full\); nothing was changed$"):
        fileformat.save(g, target, with_weights=with_weights)
    # the old graph and its weights, bit for bit; no temporary file, no orphan weights file
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


def test_stale_temporary_files_of_any_save_in_the_folder_are_removed(examples_dir, tmp_path):
    """A save killed while it wrote a weights file leaves ``.g.weights.<hash>.npz.<random>.gradviz.tmp``:
    a later save to that folder (of another file too) removes it once it is old."""
    stale = tmp_path / ".g.weights.0123456789.npz.abcdef.gradviz.tmp"
    stale.write_bytes(bytes(1000))
    os.utime(stale, (1, 1))
    fresh = tmp_path / ".h.json.fedcba.gradviz.tmp"  # a save still running
    fresh.write_bytes(b"x")
    fileformat.save(fileformat.load(examples_dir / "mlp_softmax.json"), tmp_path / "other.json")
    assert not stale.exists() and fresh.exists()


def test_schema_file_matches_what_we_write(examples_dir):
    import jsonschema
    schema = fileformat.schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)  # one validator for every example
    for path in examples_dir.glob("*.json"):
        validator.validate(fileformat.to_dict(fileformat.load(path)))


def test_every_setting_away_from_its_default_survives_a_load_and_a_save(examples_dir, tmp_path):
    # a round trip from the file the user wrote: a load that drops a field (the seed, say) would
    # pass a test that only compares a loaded graph with itself saved again
    from gradviz_core.model.settings import TRAINING
    d = json.loads((examples_dir / "mlp_softmax.json").read_text())
    away = {}
    for s in TRAINING:
        if s.kind == "choice":
            away[s.name] = next(c for c in reversed(s.choices) if c != s.default)
        elif s.kind == "float":
            away[s.name] = s.default * 0.5 if s.default * 0.5 >= (s.low or 0) and s.default else 0.25
        elif s.kind == "int":
            away[s.name] = s.default + 3 if s.default + 3 <= (s.high or 10**9) else s.default - 1
        elif s.kind == "names":
            away[s.name] = ["fc1"]
        else:
            away[s.name] = "start.npz"
    assert all(away[k] != s.default for k, s in ((s.name, s) for s in TRAINING))
    d["training"] = away
    d["data"] = {**d["data"], "seed": 17, "n": 123}
    d["nodes"][1]["params"]["units"] = 7
    d["nodes"][1]["pos"] = [321, 123]
    path = tmp_path / "g.json"
    path.write_text(json.dumps(d))
    g = fileformat.load(path)
    loaded = {k: list(g.training[k]) if isinstance(g.training[k], tuple) else g.training[k] for k in away}
    assert loaded == away
    assert g.data["seed"] == 17 and g.data["n"] == 123
    assert fileformat.to_dict(g)["nodes"][1]["params"]["units"] == 7 and tuple(g.pos("fc1")) == (321, 123)
    fileformat.save(g, tmp_path / "again.json")
    again = fileformat.load(tmp_path / "again.json")
    assert fileformat.to_dict(again) == fileformat.to_dict(g)
    assert json.loads((tmp_path / "again.json").read_text())["training"]["seed"] == away["seed"]
