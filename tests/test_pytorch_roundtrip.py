"""Out to PyTorch and back (issue 31): the exported file's command line, one process against
two under torchrun on the same global batch, its data read from the graph's files as gradviz
reads them, small sources with their arrays beside them, and its checkpoints back in the
graph (``gradviz import-weights``), checked by name and shape, never run as code.

The checkpoints in tests/data were written by PyTorch (tools/make_torch_checkpoint.py), so
the way back is tested on machines without PyTorch too."""
import json
import os
import pickle
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from gradviz_core.model import fileformat
from gradviz_core.runs.run import Run
from test_cli import run as cli

DATA = Path(__file__).resolve().parent / "data"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def spiral(tmp_path, **changes):
    """examples/spiral_mlp.json in tmp_path, with its fc1's units changed if asked."""
    doc = json.loads((EXAMPLES / "spiral_mlp.json").read_text())
    for node in doc["nodes"]:
        node.setdefault("params", {}).update(changes.get(node["name"], {}))
    path = tmp_path / "spiral.json"
    path.write_text(json.dumps(doc))
    return path


def forward(graph_file, X, y):
    """gradviz's value of every node at test time, on the graph file's own weights."""
    r = Run(fileformat.load(graph_file), np.float64, weights="document")
    r.feed(np.asarray(X, np.float64), y, step=1)
    return r.program.forward(False)


@pytest.mark.parametrize("checkpoint", ["spiral_mlp.pt", "spiral_mlp_ddp.pt"])
def test_a_pytorch_checkpoint_comes_back_and_computes_what_pytorch_computed(checkpoint, tmp_path):
    """PyTorch's own values of every node (saved beside its checkpoint) are gradviz's, to 1e-5,
    once import-weights has put the checkpoint into the graph; a DistributedDataParallel run's
    wrapped checkpoint ({"model": {"module.…"}}) comes back the same."""
    graph = spiral(tmp_path)
    code, out, err = cli("import-weights", graph, DATA / checkpoint, "-o", tmp_path / "trained.json")
    assert code == 0, err
    assert "4 arrays, 603 numbers" in out
    theirs = np.load(DATA / "spiral_mlp_outputs.npz")
    ours = forward(tmp_path / "trained.json", theirs["X"], theirs["y"])
    compared = [k[5:] for k in theirs.files if k.startswith("node/")]
    assert {"fc1", "relu1", "fc2", "loss"} <= set(compared)
    for node in compared:
        assert np.allclose(ours[node], theirs[f"node/{node}"], rtol=1e-5, atol=1e-6), node
    # the original is untouched, and in place is the default
    assert fileformat.load(graph).weights() == {}
    assert cli("import-weights", graph, DATA / checkpoint)[0] == 0
    assert np.allclose(forward(graph, theirs["X"], theirs["y"])["fc2"], theirs["node/fc2"], rtol=1e-5, atol=1e-6)


def test_a_checkpoint_that_does_not_fit_names_each_mismatch_and_changes_nothing(tmp_path):
    graph = spiral(tmp_path, fc1={"units": 50})
    before = graph.read_text()
    code, _, err = cli("import-weights", graph, DATA / "spiral_mlp.pt")
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "fc1.weight is 100×2 but fc1 (Linear) takes 50×2 here" in err
    assert "fc2.weight is 3×100 but fc2 (Linear) takes 3×50 here" in err
    code, _, err = cli("import-weights", EXAMPLES / "circuit_xyz.json", DATA / "spiral_mlp.pt",
                       "-o", tmp_path / "c.json")
    assert code == 2 and "holds fc1.weight, fc1.bias, fc2.weight, fc2.bias, which this graph has no layer for" in err
    assert graph.read_text() == before and sorted(p.name for p in tmp_path.iterdir()) == ["spiral.json"]


def _zip(path, pkl: bytes, prefix="archive/"):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(prefix + "data.pkl", pkl)
        z.writestr(prefix + "byteorder", "little")
    return path


class _Shell:
    def __reduce__(self):
        return (os.system, ("touch pwned",))


def test_a_checkpoint_is_read_as_tensors_only_never_run(tmp_path):
    """A pickle that asks to run something is refused by name and nothing runs; a file that is
    not torch.save's zip, or an empty state, says what it is."""
    graph = spiral(tmp_path)
    bad = _zip(tmp_path / "evil.pt", pickle.dumps({"fc1.weight": _Shell()}, protocol=2))
    code, _, err = cli("import-weights", graph, bad)
    assert code == 2 and "asks to run posix.system" in err and "never code" in err
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    (tmp_path / "old.pt").write_bytes(b"\x80\x02}q\x00.")
    code, _, err = cli("import-weights", graph, tmp_path / "old.pt")
    assert code == 2 and "not a PyTorch checkpoint (torch.save writes a zip archive" in err
    code, _, err = cli("import-weights", graph, _zip(tmp_path / "empty.pt", pickle.dumps({}, protocol=2)))
    assert code == 2 and "an empty dict, not a state_dict" in err
    code, _, err = cli("import-weights", graph, tmp_path / "missing.pt")
    assert code == 2 and "missing.pt" in err


@pytest.mark.parametrize("to", ["pytorch", "numpy"])
def test_every_example_exports_a_small_source_with_its_arrays_beside_it(to, tmp_path):
    """No weights or data inline: the source of every example stays under 64 KB (AlexNet's
    included), and the arrays file beside it holds every weight."""
    from gradviz_core.formats import export_files
    for example in sorted(EXAMPLES.glob("*.json")):
        graph = fileformat.load(example)
        try:
            files = export_files(graph, to, tmp_path / "net.py")
        except Exception as exc:  # noqa: BLE001 - what cannot be exported says so (tested elsewhere)
            assert to == "numpy", (example.name, exc)
            continue
        source, arrays = files[tmp_path / "net.py"], files[tmp_path / "net.arrays.npz"]
        assert len(source) < 64 * 1024, (example.name, len(source))
        assert b"base64" not in source, example.name
        (tmp_path / "a.npz").write_bytes(arrays)
        with np.load(tmp_path / "a.npz") as npz:
            held = sum(npz[k].size for k in npz.files if k.startswith(("state/", "P/")))
        assert held >= graph.total_params(), example.name


def _library():
    from gradviz_core.formats.torch_data import DATA_LIBRARY
    ns = {"np": np, "Path": Path}
    exec(DATA_LIBRARY, ns)  # the exported file's readers, without PyTorch
    return ns


@pytest.fixture
def files(tmp_path):
    """A data file of every format the readers read, as the field distributes them."""
    from test_image_data import cifar_folder, image_folder, mnist_files
    (tmp_path / "mnist").mkdir()
    mnist, _, _ = mnist_files(tmp_path / "mnist", n=120)
    cifar, _, _ = cifar_folder(tmp_path / "cifar-10-batches-py", n=40)
    folder, _, _ = image_folder(tmp_path / "shapes", n=60, size=8)
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "points.npz", X=rng.normal(size=(90, 4)), y=rng.integers(0, 3, 90))
    shutil.copy(EXAMPLES / "lesson_preprocessing.csv", tmp_path / "table.csv")
    return {"idx": ({"path": "mnist/train-images-idx3-ubyte.gz", "n": 100}, mnist),
            "cifar": ({"path": "cifar-10-batches-py"}, cifar),
            "folder": ({"path": "shapes", "size": 6, "grey": True}, folder),
            "npz": ({"path": "points.npz", "shape": [2, 2]}, tmp_path / "points.npz"),
            "csv": ({"path": "table.csv", "label": "label"}, tmp_path / "table.csv")}


@pytest.mark.parametrize("source", ["idx", "cifar", "folder", "npz", "csv"])
@pytest.mark.parametrize("pipeline", [{"val": 0.2, "test": 0.1, "preprocess": "standardize", "split_seed": 3},
                                      {"test": 0.25, "preprocess": "whiten", "classes": [2, 0]},
                                      {"val": 0.1, "preprocess": "scale", "n_train": 30}])
def test_the_exported_file_reads_each_format_into_the_samples_gradviz_trains_on(source, pipeline, files, tmp_path):
    """The exported file's readers, class filter, split and preprocessing give gradviz's very
    samples, from the graph's own file (with its settings) and from --data (by its name)."""
    from gradviz_core.data import make_splits
    from gradviz_core.formats.torch_data import data_section
    if source == "csv" and "classes" in pipeline:
        pipeline = {k: v for k, v in pipeline.items() if k != "classes"}
    if source in ("folder", "cifar") and pipeline["preprocess"] == "whiten":
        pipeline = {**pipeline, "preprocess": "center"}  # more pixels than samples: whitening is noise
    settings, path = files[source]
    graph = fileformat.loads(json.dumps({"format": "gradviz-graph", "version": 1, "nodes": [], "edges": [], "data": {"source": source, **settings, **pipeline}}),
                             base_dir=str(tmp_path))
    splits = make_splits(graph.data, tmp_path)
    lib = _library()
    spec, pipe = data_section(graph, tmp_path / "out")
    (tmp_path / "out").mkdir()
    X, y = lib["read_data"](tmp_path / "out" / spec["path"], spec["source"],
                            {k: (tmp_path / "out" / v if k == "labels" else v) for k, v in spec["settings"].items()})
    theirs = lib["prepare"](X, y, pipe)
    for name in ("train", "val", "test"):
        ds = getattr(splits, name)
        if ds is None:
            assert f"X_{name}" not in theirs
            continue
        assert theirs[f"X_{name}"].dtype == np.float32
        assert np.allclose(theirs[f"X_{name}"], ds.X, rtol=1e-6, atol=1e-6), name
        assert np.array_equal(theirs[f"y_{name}"], ds.y), name
    if not settings.get("n") and not settings.get("size") and not settings.get("shape") and not settings.get("label"):
        X2, y2 = lib["read_data"](path)  # --data PATH: the format from the name
        assert np.array_equal(X2, X) and np.array_equal(y2, y)


def test_the_exported_readers_name_the_file_and_the_cell(tmp_path):
    lib = _library()
    (tmp_path / "t.csv").write_text("a,b,label\n1,2,0\n3,,1\n")
    with pytest.raises(lib["DataFileError"], match=r"t.csv: row 3, column 'b': missing value"):
        lib["read_data"](tmp_path / "t.csv")
    (tmp_path / "t.txt").write_text("1,2\n")
    with pytest.raises(lib["DataFileError"], match=r"t.txt: not a data file this script reads"):
        lib["read_data"](tmp_path / "t.txt")


# ---- with PyTorch: the exported file run as a user runs it ----------------------------------

def _export(example, tmp_path):
    out = tmp_path / "net.py"
    code, _, err = cli("export", EXAMPLES / example, "-o", out)
    assert code == 0, err
    return out


def _load(path):
    """The exported file as a module, under a name of its own (each test's file is another)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"exported_{abs(hash(str(path)))}", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _run(args, cwd, timeout=240):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONWARNINGS": "ignore"}
    p = subprocess.run([sys.executable, *map(str, args)], capture_output=True, text=True, timeout=timeout, cwd=cwd,
                       env=env)
    assert p.returncode == 0, p.stdout + p.stderr
    return p.stdout


def _torchrun(n, *args):
    return ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(n), *args]


def test_torchrun_trains_a_lesson_in_two_processes_and_its_checkpoint_comes_back(tmp_path):
    """digits_convnet, one epoch in two processes (gloo): rank 0 alone logs, the loss falls, and
    the checkpoint, back in the graph, computes PyTorch's forward outputs to 1e-5."""
    torch = pytest.importorskip("torch")
    net = _export("digits_convnet.json", tmp_path)
    out = _run([*_torchrun(2, net, "--device", "cpu", "--epochs", "1", "--save", "ckpt.pt")], tmp_path)
    assert out.count("epoch 1:") == 1 and "2 processes on cpu" in out, out
    mod = _load(net)
    data = mod.load_data()
    X, y = torch.from_numpy(data["X_train"]), torch.from_numpy(data["y_train"])
    start, trained = mod.load_weights(mod.Model()), mod.Model()
    trained.load_state_dict(torch.load(tmp_path / "ckpt.pt", weights_only=True))
    before, after = mod.evaluate(start, X, y, "cpu")[0], mod.evaluate(trained, X, y, "cpu")[0]
    assert after < 0.8 * before, (before, after)
    graph = tmp_path / "digits.json"
    shutil.copy(EXAMPLES / "digits_convnet.json", graph)
    code, _, err = cli("import-weights", graph, tmp_path / "ckpt.pt")
    assert code == 0, err
    with torch.no_grad():
        theirs = trained.eval()(X[:64], y[:64])
    ours = forward(graph, data["X_train"][:64], data["y_train"][:64])
    for node, value in theirs.items():
        if value.dtype.is_floating_point:
            assert np.allclose(ours[node], value.numpy(), rtol=1e-5, atol=1e-5), node


def test_one_process_and_two_take_the_same_steps_on_the_same_global_batch(tmp_path):
    """lesson_width (Adam, batches of 32): two epochs in one process and in two give the same
    weights, up to float rounding (the two processes' gradients are averaged)."""
    torch = pytest.importorskip("torch")
    net = _export("lesson_width.json", tmp_path)
    args = [net, "--device", "cpu", "--epochs", "2", "--batch-size", "32"]
    one = _run([*args, "--save", "one.pt"], tmp_path)
    two = _run([*_torchrun(2, *args, "--save", "two.pt")], tmp_path)
    assert "1 process on cpu" in one and "2 processes on cpu" in two
    a = torch.load(tmp_path / "one.pt", weights_only=True)
    b = torch.load(tmp_path / "two.pt", weights_only=True)
    assert a.keys() == b.keys()
    start = dict(np.load(tmp_path / "net.arrays.npz"))
    for key in a:
        assert not np.allclose(a[key].numpy(), start[f"state/{key}"]), key  # it trained
        assert torch.allclose(a[key], b[key], rtol=1e-4, atol=1e-5), key
    assert [line.split(", training")[0] for line in one.splitlines() if line.startswith("epoch")] == \
        [line.split(", training")[0] for line in two.splitlines() if line.startswith("epoch")]


def test_the_exported_file_takes_another_data_file_and_says_what_is_wrong(tmp_path, capsys, monkeypatch):
    """--data trains on another file; a file with a hole, a missing GPU or a file that is not
    data ends with one line that names it, exit code 2, no traceback (in this process: its
    command line is main())."""
    pytest.importorskip("torch")
    shutil.copy(EXAMPLES / "lesson_preprocessing.csv", tmp_path / "table.csv")
    net = _export("lesson_preprocessing.json", tmp_path)
    (tmp_path / "holes.csv").write_text("a,b,label\n1,2,0\n3,,1\n")
    monkeypatch.chdir(tmp_path)
    mod = _load(net)
    mod.main(["--device", "cpu", "--epochs", "2", "--data", "table.csv"])
    assert "epoch 2:" in capsys.readouterr().out
    for args, says in ((["--data", "holes.csv"], "holes.csv: row 3, column 'b': missing value"),
                       (["--device", "cuda"], "--device cuda: this machine has no CUDA GPU"),
                       (["--data", str(EXAMPLES / "spiral_mlp.json")], "not a data file this script reads")):
        with pytest.raises(SystemExit) as end:
            mod.main(args)
        err = capsys.readouterr().err
        assert end.value.code == 2 and says in err and err.count("\n") == 1, err


def test_file_import_weights_shows_the_trained_net_in_the_window(qtbot, examples_dir, monkeypatch, tmp_path):
    """File > Import weights from PyTorch: the stepped loss is the trained net's (as PyTorch's
    own value on the same batch), Ctrl+Z gives the old weights back, and a checkpoint that does
    not fit says why in a message box and changes nothing."""
    pytest.importorskip("pytestqt")
    from PySide6.QtWidgets import QFileDialog, QMessageBox
    from gradviz.app.main_window import MainWindow
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    w = MainWindow(str(examples_dir / "spiral_mlp.json"))
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)

    def shown_loss():
        w.session.run_phase("forward")  # Step > Run the forward pass (F5)
        w.select_node("loss")
        text = w.values.text.text()
        assert "output</b> loss = " in text, text
        return float(text.split("output</b> loss = ")[1].split("<")[0].replace("−", "-")), w.session.stepper.values

    fresh, _ = shown_loss()
    action = next(a for a in w.menuBar().actions()[0].menu().actions() if "Import weights" in a.text())
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(DATA / "spiral_mlp.pt"), ""))
    action.trigger()
    assert "The weights of spiral_mlp.pt are now the graph's" in w.statusBar().currentMessage()
    assert "its weights were replaced" in w.stepper_panel.banner.text()  # the old steps are not shown as new
    trained, values = shown_loss()
    theirs = np.load(DATA / "spiral_mlp_outputs.npz")
    from gradviz_core.formats.torch_weights import load_checkpoint
    graph = fileformat.load(examples_dir / "spiral_mlp.json")
    graph.put_weights(load_checkpoint(graph, DATA / "spiral_mlp.pt"))
    r = Run(graph, np.float64, weights="document")
    r.feed(values["x"], values["y"], step=1)
    expected = float(r.program.forward(False)["loss"])
    assert trained == pytest.approx(expected, rel=1e-3) and trained < 0.5 * fresh
    assert theirs["node/loss"] < 0.5 * fresh
    assert w.scene.undo_stack.undoText() == "import the weights of spiral_mlp.pt"
    said = []
    monkeypatch.setattr(QMessageBox, "warning", lambda *a: said.append(a[2]))
    w.open_example(examples_dir / "lesson_width.json")
    assert not w.import_weights(str(DATA / "spiral_mlp.pt"))
    assert said and "does not fit" in said[0] and not w.scene.undo_stack.canUndo()
