"""Every setting checked before use: the data and training declarations, their messages,
relative paths, the refusals that say what to change, and the schema that says the same."""
import json
import os

import numpy as np
import pytest

from gradviz_core import Graph
from gradviz_core.model import fileformat
from gradviz_core.data.spec import check_data
from gradviz_core.errors import GradvizError
from gradviz_core.model.settings import check_training
from gradviz_core.runs.stepper import Stepper
from clirun import run_here as run  # the settings as the command line checks them, in this process


def example(examples_dir, name="spiral_mlp.json"):
    return json.loads((examples_dir / name).read_text())


def write(tmp_path, doc, name="g.json"):
    path = tmp_path / name
    path.write_text(json.dumps(doc))
    return path


def test_the_schema_file_says_what_the_declarations_check():
    from gradviz_core.formats.schema_gen import SCHEMA_FILE, generated
    assert json.loads(SCHEMA_FILE.read_text()) == generated(), "run python -m gradviz_core.formats.schema_gen"


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
    ({"val": "half"}, "data.val must be a number"),  # (null means the default: test_bad_inputs)
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
    with pytest.raises(DataError, match="only.csv: has a single column, which is taken as the label: there are no feature"):
        make_splits({"source": "csv", "path": str(tmp_path / "only.csv")})
    np.savez(tmp_path / "nofeat.npz", X=np.zeros((3, 0)), y=np.zeros(3))
    with pytest.raises(DataError, match="nofeat.npz: the samples have no features"):
        make_splits({"source": "npz", "path": str(tmp_path / "nofeat.npz")})
    with pytest.raises(DataError, match="is a folder"):
        make_splits({"source": "csv", "path": str(tmp_path)})


@pytest.mark.parametrize("y,classes,message", [
    ([0, 1, 2], 2, r"data: sample 2 has the label 2, but data.classes = 2 allows only 0 … 1$"),
    ([0, -1, 1], None, r"data: sample 1 has the label -1; class labels are whole numbers 0, 1, 2, … \(none below 0\)$"),
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


# ---- saving --------------------------------------------------------------------------------
def mlp_doc(examples_dir):
    g = fileformat.load(examples_dir / "mlp_softmax.json")
    g.build()
    return g


def test_a_save_keeps_the_permissions_of_the_file_it_replaces(examples_dir, tmp_path):
    path = tmp_path / "net.json"
    fileformat.save(mlp_doc(examples_dir), path)
    os.chmod(path, 0o644)
    fileformat.save(mlp_doc(examples_dir), path)
    assert oct(os.stat(path).st_mode & 0o777) == oct(0o644)


def test_leftovers_of_killed_saves_are_removed(examples_dir, tmp_path):
    path = tmp_path / "net.json"
    stale = tmp_path / ".net.json.abc123.tmp"
    stale.write_bytes(b"x" * 1000)
    os.utime(stale, (1, 1))  # long ago
    fresh = tmp_path / ".net.json.def456.tmp"  # another save, still running
    fresh.write_bytes(b"x")
    fileformat.save(mlp_doc(examples_dir), path)
    assert not stale.exists() and fresh.exists()


def test_a_graph_and_its_weights_are_never_mixed(examples_dir, tmp_path, monkeypatch):
    path = tmp_path / "net.json"
    g = mlp_doc(examples_dir)
    fileformat.save(g, path, with_weights=True)
    first = json.loads(path.read_text())["weights"]
    old = g.brick("fc1").weights["W"].copy()
    g.brick("fc1").weights["W"] = old + 1
    real = fileformat.atomic_write

    def killed(target, data, **kw):  # the weights are written, then the process dies
        real(target, data, **kw)
        if target.suffix == ".npz":
            raise KeyboardInterrupt
    monkeypatch.setattr(fileformat, "atomic_write", killed)
    with pytest.raises(KeyboardInterrupt):
        fileformat.save(g, path, with_weights=True)
    monkeypatch.setattr(fileformat, "atomic_write", real)
    again = fileformat.load(path)  # the old graph with its own, old weights
    assert json.loads(path.read_text())["weights"] == first
    np.testing.assert_array_equal(again.brick("fc1").weights["W"], old)
    fileformat.save(g, path, with_weights=True)  # a complete save replaces both and tidies up
    assert not (tmp_path / first).exists()
    np.testing.assert_array_equal(fileformat.load(path).brick("fc1").weights["W"], g.brick("fc1").weights["W"])


# ---- memory and divergence -------------------------------------------------------------------
def test_a_graph_that_cannot_fit_is_refused_with_the_estimate(examples_dir, tmp_path):
    doc = example(examples_dir)
    for node in doc["nodes"]:
        if node["type"] == "Linear":
            node.setdefault("params", {})["units"] = 100000
    code, _, err = run("train", write(tmp_path, doc))
    assert code == 2 and "needs about" in err and "GB" in err and "available" in err
    doc = example(examples_dir)
    doc["data"] = {"source": "shapes", "n": 10**8, "size": 256}
    code, _, err = run("step", write(tmp_path, doc))
    assert code == 2 and "100,000,000 samples of 65,536 values need about" in err


def spiral_net(**training):
    from test_train import spiral
    return spiral(**training)


def test_divergence_advice_follows_the_cause():
    from gradviz_core.model.commands import SetParam
    from gradviz_core.runs.trainer import Trainer
    g = spiral_net(epochs=20)
    SetParam("reg", "lam", 1e308).do(g)
    r = Trainer(g).run()
    assert r.status == "diverged" and "training stopped at step 1" in r.message
    assert "the regularization term (reg)" in r.message and "λ is far too large" in r.message
    assert "smaller learning rate" not in r.message
    g = spiral_net(epochs=20)
    SetParam("fc1", "init", "normal").do(g)
    SetParam("fc1", "init_scale", 1e30).do(g)
    r = Trainer(g).run()
    assert "before any update" in r.message and "initialization" in r.message
    assert "smaller learning rate" not in r.message
    r = Trainer(spiral_net(lr=100.0, epochs=50)).run()
    assert "Try a smaller learning rate than 100" in r.message
    assert "the weights were restored to the starting weights, before step 1 (loss" in r.message


# ---- settings from the command line ------------------------------------------------------------
def test_set_overrides_training_data_and_node_settings(examples_dir):
    code, out, err = run("info", examples_dir / "spiral_mlp.json", "--json", "--set", "fc1.units=2",
                         "--set", "training.optimizer=adam", "--set", "data.noise=0.3")
    assert code == 0, err
    info = json.loads(out)
    fc1 = next(n for n in info["nodes"] if n["name"] == "fc1")
    assert fc1["shape"] == "(N, 2)" and fc1["params"] == 2 * 2 + 2
    code, _, err = run("train", examples_dir / "spiral_mlp.json", "--steps", "2", "--set", "training.optimizer=adam",
                       "--set", "fc1.units=2", "--set", "data.noise=0.3")
    assert code == 0, err
    code, _, err = run("step", examples_dir / "spiral_mlp.json", "--set", "fc9.units=2")
    assert code == 2 and "--set fc9.units=2: there is no node named 'fc9'" in err and "did you mean 'fc" in err
    code, _, err = run("gradcheck", examples_dir / "spiral_mlp.json", "--set", "training.lr=-1")
    assert code == 2 and "training.lr must be ≥ 1e-12" in err
    code, _, err = run("step", examples_dir / "spiral_mlp.json", "--set", "lr")
    assert code == 2 and "write KEY=VALUE" in err


def test_info_fills_in_every_formula_and_says_what_training_loads(examples_dir, tmp_path):
    doc = example(examples_dir, "digits_convnet.json")
    doc["training"].update(freeze=["conv1"], init_from="pretrained.npz")
    code, out, err = run("info", write(tmp_path, doc))
    assert code == 0, err
    assert "(F·F·D)·K + K = (3·3·1)·8 + 8 = 80" in out and "1,898 parameters" in out
    assert "(frozen)" in out and "pretrained.npz" in out and "conv1" in out


def test_a_class_filter_and_a_training_subset_make_fine_tuning_data():
    from gradviz_core.data import make_splits
    first = make_splits({"source": "digits", "classes": [0, 1, 2, 3, 4], "test": 0.2})
    later = make_splits({"source": "digits", "classes": [5, 6, 7, 8, 9], "n_train": 50, "test": 0.2})
    assert first.train.classes == later.train.classes == 5
    assert set(np.unique(later.train.y)) <= set(range(5)) and len(later.train) == 50
    assert len(later.test) > 150  # the held-out split is not cut
    with pytest.raises(GradvizError, match="there is no class 12"):
        make_splits({"source": "digits", "classes": [3, 12]})
    with pytest.raises(GradvizError, match="data.n_train = 5000: the training split has only"):
        make_splits({"source": "digits", "n_train": 5000})
