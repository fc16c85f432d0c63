"""The last bad inputs, as a user meets them on the command line: one line that names the file
(then one line per distinct problem), exit code 2, no traceback."""
import json

import numpy as np
import pytest

from gradviz.cli import main


def gradviz(capsys, *args):
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return code, out.out, out.err


def graph_file(tmp_path, examples_dir, name="mlp_softmax.json", change=None, file="g.json"):
    doc = json.loads((examples_dir / name).read_text())
    if change:
        change(doc)
    path = tmp_path / file
    path.write_text(json.dumps(doc))
    return path


def test_a_graph_without_edges_is_one_line_naming_the_file_and_every_unwired_input(tmp_path, examples_dir, capsys):
    path = graph_file(tmp_path, examples_dir, "digits_convnet.json", lambda d: d.update(edges=[]))
    code, _, err = gradviz(capsys, "step", path)
    assert code == 2 and err.count("\n") == 1 and err.startswith(f"gradviz: error: {path}: edges is empty")
    assert "conv1.x (Conv2D)" in err and "loss.target (SoftmaxCrossEntropy)" in err


def test_several_problems_count_under_a_first_line_that_names_the_file(tmp_path, examples_dir, capsys):
    def two(doc):  # a missing wire and an impossible pooling of a 1×1 map
        doc["edges"] = [e for e in doc["edges"] if e["to"] != "loss" or e["port"] != "target"]
        next(n for n in doc["nodes"] if n["name"] == "pool2")["params"] = {"size": 8}
    path = graph_file(tmp_path, examples_dir, "digits_convnet.json", two)
    code, _, err = gradviz(capsys, "gradcheck", path)
    lines = err.splitlines()
    assert code == 2 and lines[0] == f"gradviz: error: {path}: the graph cannot run (2 problems):"
    assert len(lines) == 3 and "pool2" in lines[1] and "loss: input 'target'" in lines[2]


@pytest.mark.parametrize("verb", ["step", "gradcheck", "train"])
def test_a_graph_too_big_for_memory_is_refused_naming_the_node_and_the_array(tmp_path, examples_dir, capsys, verb):
    def huge(doc):
        for n in doc["nodes"]:
            if n["name"] in ("fc1", "fc2"):
                n["params"]["units"] = 100000
    path = graph_file(tmp_path, examples_dir, change=huge)
    code, _, err = gradviz(capsys, verb, path)
    assert code == 2 and err.count("\n") == 1
    assert f"{path}: fc2: W (100000 × 100000) needs 37.3 GB in float32" in err and "available" in err
    # the window's Problems show the same, on the node
    from gradviz_core.model import fileformat
    g = fileformat.load(path)
    assert [(p.node, p.kind) for p in g.problems] == [("fc2", "memory")]
    code, out, _ = gradviz(capsys, "info", path)   # described all the same
    assert code == 0 and "10,000,400,000 parameters" in out


def _data_file(tmp_path, examples_dir, data, capsys, verb="train"):
    path = graph_file(tmp_path, examples_dir, change=lambda d: d.update(data=data))
    return gradviz(capsys, verb, path, "--set", "training.epochs=1")


def test_npz_and_csv_files_that_cannot_be_data_are_named_with_the_array_or_column(tmp_path, examples_dir, capsys):
    np.savez(tmp_path / "empty.npz", X=np.zeros((0, 2)), y=np.zeros(0))
    np.savez(tmp_path / "scalar.npz", X=np.float64(3), y=np.zeros(3))
    (tmp_path / "label.csv").write_text("label\n0\n1\n0\n")
    for data, says in (({"source": "npz", "path": "empty.npz"}, "empty.npz: X is empty (0 samples"),
                       ({"source": "npz", "path": "scalar.npz"}, "scalar.npz: X is a single number"),
                       ({"source": "csv", "path": "label.csv"}, "label.csv: has a single column, which is taken as the label")):
        code, _, err = _data_file(tmp_path, examples_dir, data, capsys)
        assert code == 2 and err.count("\n") == 1 and says in err, err


def test_a_shape_in_a_file_is_a_list(tmp_path, examples_dir, capsys):
    (tmp_path / "two.csv").write_text("a,b,label\n1,2,0\n3,4,1\n5,6,2\n")
    code, _, err = _data_file(tmp_path, examples_dir, {"source": "csv", "path": "two.csv", "shape": "1, 2"}, capsys)
    assert code == 2 and "data.shape" in err and "[1, 8, 8]" in err and "'1, 2'" in err
    code, _, err = _data_file(tmp_path, examples_dir, {"source": "csv", "path": "two.csv", "shape": [2]}, capsys)
    assert code == 0, err


def test_null_means_the_default(tmp_path, examples_dir, capsys):
    def nulls(doc):
        doc["training"].update(lr=None, epochs=None)
        doc["data"].update(val=None, n=None)
        next(n for n in doc["nodes"] if n["name"] == "fc1")["params"]["units"] = None
    path = graph_file(tmp_path, examples_dir, change=nulls)
    from gradviz_core.model import fileformat
    from gradviz_core.model.settings import Settings
    g = fileformat.load(path)
    assert not g.problems and g.brick("fc1").config["units"] == 16 and g.splits().train.X.shape == (300, 2)
    s = Settings.from_dict(g.training)
    assert s.lr == 0.1 and s.epochs == 10
    code, out, err = gradviz(capsys, "train", path, "--set", "training.epochs=null", "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["epochs"] == 10


@pytest.mark.parametrize("verb", ["step", "gradcheck", "train", "info", "export", "render"])
def test_every_verb_given_something_that_is_not_a_graph_says_so_in_one_line(tmp_path, capsys, monkeypatch, verb):
    from pathlib import Path
    (tmp_path / "image.png").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    (tmp_path / "empty.json").write_text("")
    (tmp_path / "locked.json").write_text("{}")
    (tmp_path / "folder").mkdir()
    real = Path.read_text

    def read_text(self, *a, **k):   # root reads any file: make this one unreadable
        if self.name == "locked.json":
            raise PermissionError(13, "Permission denied")
        return real(self, *a, **k)
    monkeypatch.setattr(Path, "read_text", read_text)
    extra = {"export": ["--to", "pytorch", "-o", tmp_path / "m.py"], "render": ["-o", tmp_path / "x.png"]}.get(verb, [])
    for name, says in (("image.png", "not a text file"), ("empty.json", "the file is empty"),
                       ("folder", "is a folder"), ("locked.json", "cannot be read (Permission denied)"),
                       ("missing.json", "no such file")):
        code, out, err = gradviz(capsys, verb, tmp_path / name, *extra)
        assert code == 2 and out == "" and err.count("\n") == 1, (name, err)
        assert err.startswith(f"gradviz: error: {tmp_path / name}: {says}"), err


def test_set_takes_every_key_a_lesson_link_takes(examples_dir, capsys):
    code, out, err = gradviz(capsys, "train", examples_dir / "lesson_init.json", "--set", "*.init=xavier",
                             "--set", "training.epochs=1", "--json")
    assert code == 0, err
    code, _, err = gradviz(capsys, "info", examples_dir / "lesson_init.json", "--set", "*.nope=1")
    assert code == 2 and "--set *.nope=1: no node of this graph has a parameter 'nope'" in err
    from gradviz_core.model import fileformat
    from gradviz_core.model.overrides import apply_set
    g = fileformat.load(examples_dir / "lesson_init.json")
    apply_set(g, "*.init=xavier")
    assert {g.brick(n).config["init"] for n in g.order if "init" in g.brick(n).config} == {"xavier"}


def test_a_data_source_that_is_not_a_name_is_refused_in_one_line(tmp_path, examples_dir, capsys):
    code, _, err = _data_file(tmp_path, examples_dir, {"source": [1, 2]}, capsys, verb="step")
    assert code == 2 and err.count("\n") == 1 and "data.source" in err


def test_train_takes_a_thread_count_and_refuses_none(examples_dir, capsys):
    code, out, _ = gradviz(capsys, "train", examples_dir / "digits_convnet.json", "--threads", "1", "--epochs", "1",
                           "--json")
    assert code == 0 and json.loads(out.splitlines()[-1])["epochs"] == 1
    code, _, err = gradviz(capsys, "train", examples_dir / "digits_convnet.json", "--threads", "0")
    assert code == 2 and "--threads 0: give 1 or more compute threads" in err
