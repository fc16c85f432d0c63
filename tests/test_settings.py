"""Every setting checked before use: the data and training declarations, their messages,
relative paths, the refusals that say what to change, and the schema that says the same."""
import json
import os

import numpy as np
import pytest

from gradviz_core import Graph, fileformat
from gradviz_core.data.spec import check_data
from gradviz_core.errors import GradvizError
from gradviz_core.settings import check_training
from gradviz_core.stepper import Stepper
from test_cli import run


def example(examples_dir, name="spiral_mlp.json"):
    return json.loads((examples_dir / name).read_text())


def write(tmp_path, doc, name="g.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_the_schema_file_says_what_the_declarations_check():
    from gradviz_core.schema_gen import SCHEMA_FILE, generated
    assert json.loads(SCHEMA_FILE.read_text()) == generated(), "run python -m gradviz_core.schema_gen"


def test_the_examples_pass_the_schema(examples_dir):
    import jsonschema
    validator = jsonschema.Draft202012Validator(fileformat.schema())
    for path in examples_dir.glob("*.json"):
        assert not list(validator.iter_errors(json.loads(path.read_text()))), path.name


@pytest.mark.parametrize("section,message", [
    ({"n": 0}, "data.n must be ≥ 2"),
    ({"n": 1}, "data.n must be ≥ 2"),
    ({"n": True}, "data.n must be a whole number"),
    ({"classes": 0}, "data.classes must be ≥ 2"),
    ({"val": None}, "data.val must be a number"),
    ({"val": 0.999}, "data.val must be ≥ 0 and ≤ 0.95"),
    ({"split_seed": 0.5}, "data.split_seed must be a whole number"),
    ({"seed": -1}, "data.seed must be ≥ 0"),
    ({"augment": [1, 2]}, "data.augment: must be an object"),
    ({"augment": {"rotate": 1}}, "data.augment: unknown augmentation 'rotate'"),
    ({"nosie": 0.1}, "data: unknown setting 'nosie' for source 'spiral'; did you mean 'noise'?"),
    ({"val": 0.5, "test": 0.5}, "val + test = 0.5 + 0.5 leaves almost no training data"),
])
def test_data_settings_are_checked_with_the_key_named(section, message):
    with pytest.raises(GradvizError, match=message.replace("+", r"\+").replace("?", r"\?").replace("(", r"\(")):
        check_data({"source": "spiral", **section})


@pytest.mark.parametrize("section,message", [
    ({"learning_rate": 0.1}, "training: unknown setting 'learning_rate'; did you mean 'lr'?"),
    ({"beta2": 65}, "training.beta2 must be ≥ 0 and ≤ 0.99999, got 65"),
    ({"diverge_factor": 0}, "training.diverge_factor must be ≥ 2"),
    ({"optimizer": "lbfgs"}, "training.optimizer must be one of sgd"),
    ({"batch_size": "32"}, "training.batch_size must be a whole number"),
])
def test_training_settings_are_checked_with_the_key_named(section, message):
    with pytest.raises(GradvizError, match=message.replace("?", r"\?")):
        check_training(section)


@pytest.mark.parametrize("verb", ["step", "gradcheck", "train"])
def test_every_verb_names_the_file_and_the_key(examples_dir, tmp_path, verb):
    doc = example(examples_dir)
    doc["training"]["momentum"] = 2
    path = write(tmp_path, doc)
    code, _, err = run(verb, path, "--steps" if verb == "train" else "--json", *(["1"] if verb == "train" else []))
    assert code == 2
    assert err.startswith(f"gradviz: error: {path}: training.momentum must be ≥ 0 and ≤ 0.999, got 2")
    assert "Traceback" not in err


def test_a_data_error_is_reported_once(examples_dir, tmp_path):
    doc = example(examples_dir)
    doc["data"]["n"] = 1
    code, _, err = run("step", write(tmp_path, doc))
    assert code == 2 and err.count("data.n must be") == 1


def test_a_node_parameter_called_name_is_refused(examples_dir, tmp_path):
    doc = example(examples_dir)
    doc["nodes"][1]["params"]["name"] = "x"
    code, _, err = run("step", write(tmp_path, doc))
    assert code == 2 and "has no parameter name" in err


def test_relative_paths_start_from_the_graph_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "lesson"
    folder.mkdir()
    (folder / "points.csv").write_text("a,b,label\n" + "".join(f"{i / 10},{-i / 10},{i % 2}\n" for i in range(20)))
    g = Graph()
    g.set_data({"source": "csv", "path": "points.csv"})
    for name, t in [("x", "Input"), ("fc", "Linear"), ("y", "Target"), ("loss", "SoftmaxCrossEntropy")]:
        g.add_node(t, name, {"units": 2} if t == "Linear" else {})
    g.connect("x", "fc", "x")
    g.connect("fc", "loss", "x")
    g.connect("y", "loss", "target")
    g.base_dir = str(folder)
    g.analyze()
    fileformat.save(g, folder / "net.json")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    again = fileformat.load(folder / "net.json")
    assert again.problems == []
    code, out, err = run("train", folder / "net.json", "--steps", "2", cwd=elsewhere)
    assert code == 0, err
    np.savez(folder / "start.npz", **{"fc/W": np.ones((2, 2))})
    doc = json.loads((folder / "net.json").read_text())
    doc["training"]["init_from"] = "start.npz"
    (folder / "net.json").write_text(json.dumps(doc))
    code, out, err = run("train", folder / "net.json", "--steps", "1", cwd=elsewhere)
    assert code == 0, err


def test_an_empty_split_and_an_empty_file_are_refused(tmp_path):
    from gradviz_core.data import DataError, make_splits
    with pytest.raises(DataError, match="the split leaves no training sample"):
        make_splits({"source": "inline", "X": [[1.0], [2.0]], "y": [0, 1], "val": 0.5, "test": 0.4})
    (tmp_path / "only.csv").write_text("label\n0\n1\n")
    with pytest.raises(DataError, match="the samples have no features"):
        make_splits({"source": "csv", "path": str(tmp_path / "only.csv")})
    with pytest.raises(DataError, match="is a folder"):
        make_splits({"source": "csv", "path": str(tmp_path)})


@pytest.mark.parametrize("y,classes,message", [
    ([0, 1, 2], 2, "class labels must be 0..1; sample 2 has label 2"),
    ([0, -1, 1], None, "class labels must be 0..1; sample 1 has label -1"),
])
def test_labels_out_of_range_are_refused(y, classes, message):
    from gradviz_core.data import DataError, load_dataset
    spec = {"source": "inline", "X": [[0.0], [1.0], [2.0]], "y": y}
    if classes:
        spec["classes"] = classes
    with pytest.raises(DataError, match=message):
        load_dataset(spec)


def test_real_labels_given_to_a_class_loss_say_what_to_change():
    g = Graph()
    g.set_data({"source": "plane", "n": 20})
    for name, t, p in [("x", "Input", {}), ("fc", "Linear", {"units": 2}), ("y", "Target", {"encoding": "real"}),
                       ("loss", "SoftmaxCrossEntropy", {})]:
        g.add_node(t, name, p)
    g.connect("x", "fc", "x")
    g.connect("fc", "loss", "x")
    g.connect("y", "loss", "target")
    s = Stepper(g)
    with pytest.raises(GradvizError, match="a class loss needs class labels"):
        s.run_forward()


def test_batchnorm_in_training_on_a_batch_of_one_is_refused(tmp_path):
    g = Graph()
    g.set_data({"source": "spiral", "n": 30})
    for name, t, p in [("x", "Input", {}), ("fc", "Linear", {"units": 3}), ("bn", "BatchNorm", {}),
                       ("y", "Target", {}), ("loss", "SoftmaxCrossEntropy", {})]:
        g.add_node(t, name, p)
    for a, b in [("x", "fc"), ("fc", "bn"), ("bn", "loss")]:
        g.connect(a, b, "x")
    g.connect("y", "loss", "target")
    with pytest.raises(GradvizError, match="a batch of 1 gives each feature one value"):
        Stepper(g, samples=[0]).run_forward()
    Stepper(g, samples=[0], training=False).run_forward()  # test mode is fine
    path = tmp_path / "bn.json"
    fileformat.save(g, path)
    code, _, err = run("gradcheck", path, "--json")
    assert code == 0, err
