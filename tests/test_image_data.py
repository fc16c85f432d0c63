"""The image data formats as the field distributes them, written by the tests in that exact
format: MNIST's IDX files (gzip or not), CIFAR-10's Python batches and a folder of images
with one subfolder per class. Each trains a ConvNet from the command line and from the Data
panel; each problem names the file."""
import gzip
import json
import pickle
import re

import numpy as np
import pytest

from gradviz_core.data import DataError, load_dataset
from gradviz_core.data.images import shapes


def pictures(n, size, seed=0):
    """Bars, crosses and circles (3 classes) as 8-bit images: something a ConvNet can learn."""
    X, y = shapes(n, size, noise=0.05, seed=seed)
    return (np.clip(X[:, 0], 0, 1) * 255).astype(np.uint8), y


def write_idx(path, a: np.ndarray, gz: bool) -> None:
    code = {np.dtype(np.uint8): 0x08}[a.dtype]
    raw = bytes([0, 0, code, a.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in a.shape) + a.tobytes()
    path.write_bytes(gzip.compress(raw) if gz else raw)


def mnist_files(folder, n=240, size=12, gz=True):
    X, y = pictures(n, size)
    suffix = ".gz" if gz else ""
    write_idx(folder / f"train-images-idx3-ubyte{suffix}", X, gz)
    write_idx(folder / f"train-labels-idx1-ubyte{suffix}", y.astype(np.uint8), gz)
    return folder / f"train-images-idx3-ubyte{suffix}", X, y


def cifar_folder(folder, n=120):
    X, y = pictures(2 * n, 32, seed=1)
    rgb = np.stack([X, X[:, ::-1], 255 - X], axis=1)                    # three channels (n, 3, 32, 32)
    folder.mkdir()
    for i in (1, 2):
        part = slice((i - 1) * n, i * n)
        batch = {b"batch_label": f"training batch {i} of 2".encode(), b"labels": y[part].tolist(),
                 b"data": rgb[part].reshape(n, -1), b"filenames": [f"{j}.png".encode() for j in range(n)]}
        with open(folder / f"data_batch_{i}", "wb") as fh:
            pickle.dump(batch, fh, protocol=2)                          # as CIFAR's own (Python 2) pickles
    return folder, rgb, y


def image_folder(folder, n=180, size=16):
    from PIL import Image
    X, y = pictures(n, size, seed=2)
    for label, name in enumerate(("bar", "cross", "circle")):
        (folder / name).mkdir(parents=True)
    for i, (img, label) in enumerate(zip(X, y)):
        name = ("bar", "cross", "circle")[label]
        Image.fromarray(img).convert("RGB").save(folder / name / f"{i}.{'png' if i % 2 else 'jpg'}")
    return folder, X, y


def test_mnist_idx_files_gzip_or_not_are_read_with_their_labels(tmp_path):
    for gz in (True, False):
        folder = tmp_path / ("gz" if gz else "raw")
        folder.mkdir()
        path, X, y = mnist_files(folder, gz=gz)
        ds = load_dataset({"source": "idx", "path": str(path)})          # the labels file found beside it
        assert ds.X.shape == (240, 1, 12, 12) and ds.classes == 3
        np.testing.assert_allclose(ds.X[:, 0], X / 255.0)
        np.testing.assert_array_equal(ds.y, y)
    ds = load_dataset({"source": "idx", "path": str(path), "labels": str(folder / "train-labels-idx1-ubyte"),
                       "n": 50})
    assert len(ds) == 50


def test_cifar_batches_are_read_from_a_file_or_their_folder_and_never_run_code(tmp_path):
    folder, rgb, y = cifar_folder(tmp_path / "cifar-10-batches-py")
    ds = load_dataset({"source": "cifar", "path": str(folder)})
    assert ds.X.shape == (240, 3, 32, 32) and ds.classes == 3
    np.testing.assert_allclose(ds.X, rgb / 255.0)
    one = load_dataset({"source": "cifar", "path": str(folder / "data_batch_2")})
    np.testing.assert_array_equal(one.y, y[120:])

    class Boom:
        def __reduce__(self):
            return (print, ("this must never run",))
    (tmp_path / "evil").write_bytes(pickle.dumps({b"data": Boom(), b"labels": [0]}))
    with pytest.raises(DataError, match=r"evil: not a CIFAR batch: it asks to run builtins.print when it is read; builtins.print is not data"):
        load_dataset({"source": "cifar", "path": str(tmp_path / "evil")})


def test_a_folder_of_class_folders_is_read_resized_in_grey_or_colour(tmp_path):
    folder, X, y = image_folder(tmp_path / "shapes")
    ds = load_dataset({"source": "folder", "path": str(folder)})
    assert ds.X.shape == (180, 3, 16, 16) and ds.classes == 3
    assert sorted(np.bincount(ds.y)) == sorted(np.bincount(y))           # labels: the folders, by name
    grey = load_dataset({"source": "folder", "path": str(folder), "size": 8, "grey": True})
    assert grey.X.shape == (180, 1, 8, 8) and 0 <= grey.X.min() and grey.X.max() <= 1


def test_each_problem_names_the_file(tmp_path):
    (tmp_path / "bad-images-idx3-ubyte").write_bytes(b"\x89PNG\r\n\x1a\n")
    (tmp_path / "mixed" / "a").mkdir(parents=True)
    (tmp_path / "mixed" / "b").mkdir()
    from PIL import Image
    Image.new("L", (8, 8)).save(tmp_path / "mixed" / "a" / "1.png")
    Image.new("L", (9, 8)).save(tmp_path / "mixed" / "b" / "2.png")
    (tmp_path / "mixed" / "b" / "3.png").write_text("not an image")
    for spec, says in (
            ({"source": "idx", "path": str(tmp_path / "missing-images-idx3-ubyte.gz")},
             "missing-images-idx3-ubyte.gz: no such file"),
            ({"source": "idx", "path": str(tmp_path / "bad-images-idx3-ubyte")},
             "bad-images-idx3-ubyte: not an IDX file (IDX files start with the bytes 00 00, a type code and the rank"),
            ({"source": "cifar", "path": str(tmp_path / "nothing")}, "nothing: no such file"),
            ({"source": "folder", "path": str(tmp_path / "mixed")}, "2.png: is 9×8 but 1.png is 8×8; set data.size"),
            ({"source": "folder", "path": str(tmp_path / "mixed"), "size": 8}, "3.png: not a readable image")):
        with pytest.raises(DataError, match=re.escape(says)):
            load_dataset(spec)


CONVNET = {"format": "gradviz-graph", "version": 1, "title": "a small ConvNet", "nodes": [
    {"name": "x", "type": "Input"}, {"name": "conv", "type": "Conv2D", "params": {"filters": 6, "padding": 1}},
    {"name": "relu", "type": "ReLU"}, {"name": "pool", "type": "MaxPool2D"}, {"name": "flat", "type": "Flatten"},
    {"name": "fc", "type": "Linear", "params": {"units": 3, "init": "xavier"}}, {"name": "y", "type": "Target"},
    {"name": "loss", "type": "SoftmaxCrossEntropy"}],
    "edges": [{"from": a, "to": b, "port": "x"} for a, b in (("x", "conv"), ("conv", "relu"), ("relu", "pool"),
                                                          ("pool", "flat"), ("flat", "fc"), ("fc", "loss"))]
    + [{"from": "y", "to": "loss", "port": "target"}],
    "training": {"optimizer": "adam", "lr": 0.01, "batch_size": 32, "epochs": 12}}


@pytest.fixture
def three_sources(tmp_path):
    (tmp_path / "mnist").mkdir()
    mnist, _, _ = mnist_files(tmp_path / "mnist")
    cifar, _, _ = cifar_folder(tmp_path / "cifar-10-batches-py")
    folder, _, _ = image_folder(tmp_path / "shapes")
    return {"idx": {"source": "idx", "path": "mnist/train-images-idx3-ubyte.gz"},   # relative to the graph
            "cifar": {"source": "cifar", "path": str(cifar), "n": 180},
            "folder": {"source": "folder", "path": str(folder), "grey": True}}


@pytest.mark.parametrize("source", ["idx", "cifar", "folder"])
def test_each_format_trains_a_convnet_from_the_command_line(tmp_path, three_sources, cli, source):
    doc = {**CONVNET, "data": {**three_sources[source], "test": 0.25}}
    (tmp_path / "net.json").write_text(json.dumps(doc))
    code, out, err = cli("train", tmp_path / "net.json", "--json")
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    # it learns the pictures (91–100% over seeds) and tells unseen ones apart (69–84%; chance is 1/3)
    assert summary["train_acc"] > 0.8 and summary["test_acc"] > 0.5, summary


def test_the_data_panel_reads_each_format_and_the_window_trains_on_it(tmp_path, three_sources, qtbot, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    from gradviz.app.main_window import MainWindow
    (tmp_path / "net.json").write_text(json.dumps({**CONVNET, "data": {"source": "digits"}}))
    w = MainWindow(str(tmp_path / "net.json"), restore=False)
    qtbot.addWidget(w)
    panel = w.data_panel
    for source, spec in three_sources.items():
        path = str(tmp_path / spec["path"])
        monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, p=path: (p, ""))
        monkeypatch.setattr(QFileDialog, "getExistingDirectory", lambda *a, p=path: p)
        panel.source.setCurrentText(source)                          # a student's choice, which asks for the file
        panel.source.activated.emit(panel.source.currentIndex())
        assert w.graph.data["source"] == source and not w.graph.problems, w.graph.problems
        w.graph.set_training("epochs", 6)
        session = w.train_session
        session.start()
        qtbot.waitUntil(lambda: session.result is not None, timeout=60000)
        assert session.result.status == "done" and session.result.train_acc > 0.6, (source, session.result)
    w.undo.setClean()
