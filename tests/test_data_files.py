"""The user's own data: CSV and NPZ, with errors that name the row and column; preprocessing;
augmentation; the toy and image sets."""
import numpy as np
import pytest

from gradviz_core import Graph
from gradviz_core.data import DataError, load_dataset, make_splits
from gradviz_core.data.augment import augment
from gradviz_core.data.preprocess import Preprocessor
from gradviz_core.data.toy2d import CLASSIFICATION, REGRESSION


def csv(tmp_path, text, name="d.csv"):
    p = tmp_path / name
    p.write_text(text)
    return {"source": "csv", "path": str(p)}


def test_csv_points_and_labels(tmp_path):
    ds = load_dataset(csv(tmp_path, "x1,x2,label\n0.5,1,0\n-1,2.5,2\n3,4,1\n"))
    np.testing.assert_array_equal(ds.X, [[0.5, 1], [-1, 2.5], [3, 4]])
    assert ds.y.tolist() == [0, 2, 1] and ds.classes == 3
    reg = load_dataset(csv(tmp_path, "a,b,t\n1,2,0.5\n3,4,-1.5\n", "r.csv"))
    assert reg.classes is None and reg.y.dtype == np.float64


def test_csv_label_column_and_image_shape(tmp_path):
    rows = "\n".join(",".join(["7"] + [str(i) for i in range(4)]) for _ in range(3))
    spec = csv(tmp_path, "digit,p0,p1,p2,p3\n" + rows + "\n")
    ds = load_dataset({**spec, "label": "digit", "shape": [1, 2, 2]})
    assert ds.X.shape == (3, 1, 2, 2) and ds.y.tolist() == [7, 7, 7]
    with pytest.raises(DataError, match="each row has 4 features, which cannot be shaped as 1×3×3 = 9"):
        load_dataset({**spec, "label": "digit", "shape": [1, 3, 3]})
    with pytest.raises(DataError, match="no column named 'lbl' \\(columns: digit, p0, p1, p2, p3\\)"):
        load_dataset({**spec, "label": "lbl"})


@pytest.mark.parametrize("text,message", [
    ("x,y,label\n1,2,0\n3,,1\n", "row 3, column 'y': missing value"),
    ("x,y,label\n1,NA,0\n", "row 2, column 'y': missing value"),
    ("x,y,label\n1,abc,0\n", "row 2, column 'y': 'abc' is not a number"),
    ("x,y,label\n1,2,cat\n", "row 2, column 'label': 'cat' is not a number (labels must be numbers"),
    ("x,y,label\n1,2,0\n1,2\n", "row 3: has 2 cells but the header has 3"),
    ("x,y,label\n", "needs a header row and at least one data row"),
    ("x,y,label\n1,inf,0\n", "row 2, column 'y': 'inf' is not finite"),
])
def test_csv_errors_name_row_and_column(tmp_path, text, message):
    spec = csv(tmp_path, text)
    with pytest.raises(DataError) as err:
        load_dataset(spec)
    assert message in str(err.value) and str(err.value).startswith(spec["path"])


def test_csv_reports_several_problems_at_once(tmp_path):
    rows = "".join(f"{i},,0\n" for i in range(8))
    with pytest.raises(DataError, match=r"row 2, column 'y': missing value; row 3.*\(and 3 more\)"):
        load_dataset(csv(tmp_path, "x,y,label\n" + rows))


def test_csv_problems_show_on_the_input_node(tmp_path):
    g = Graph()
    g.set_data(csv(tmp_path, "x,y,label\n1,,0\n"))
    g.add_node("Input", "x")
    [p] = g.problems
    assert p.node == "x" and "row 2, column 'y': missing value" in p.message


def test_npz(tmp_path):
    np.savez(tmp_path / "ok.npz", X=np.ones((4, 3)), y=np.array([0, 1, 1, 0]))
    ds = load_dataset({"source": "npz", "path": str(tmp_path / "ok.npz")})
    assert ds.X.shape == (4, 3) and ds.classes == 2
    cases = {
        "noy.npz": (dict(X=np.ones((2, 2))), "needs arrays named X and y; it has X"),
        "len.npz": (dict(X=np.ones((2, 2)), y=np.zeros(3)), "X has 2 samples but y has 3 labels"),
        "nan.npz": (dict(X=np.array([[1.0, np.nan], [1, 2]]), y=np.zeros(2)),
                    "X has 1 missing or non-finite values, the first at sample 0, feature 1"),
        "str.npz": (dict(X=np.array([["a"]]), y=np.zeros(1)), "X and y must hold numbers"),
        "y3d.npz": (dict(X=np.ones((2, 2)), y=np.zeros((2, 2, 2))), "y must be one label per sample (n,) or a table of labels (n, T)"),
    }
    for name, (arrays, message) in cases.items():
        np.savez(tmp_path / name, **arrays)
        with pytest.raises(DataError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_dataset({"source": "npz", "path": str(tmp_path / name)})
    (tmp_path / "bad.npz").write_bytes(b"junk")
    with pytest.raises(DataError, match="bad.npz: not a .npz file"):
        load_dataset({"source": "npz", "path": str(tmp_path / "bad.npz")})
    with pytest.raises(DataError, match="no such file"):
        load_dataset({"source": "npz", "path": str(tmp_path / "gone.npz")})


def test_paths_are_relative_to_the_graph_file(tmp_path, examples_dir):
    (tmp_path / "pts.csv").write_text("a,b,label\n0,1,0\n1,0,1\n")
    g = Graph()
    g.base_dir = str(tmp_path)
    g.set_data({"source": "csv", "path": "pts.csv"})
    g.add_node("Input", "x")
    assert g.shapes["x"] == (None, 2) and g.problems == []


@pytest.mark.parametrize("method", ["center", "standardize", "scale", "whiten"])
def test_preprocessing_uses_training_statistics(method):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((500, 3)) @ np.array([[2.0, 0.5, 0], [0, 1, 0.3], [0, 0, 0.2]]) + [5, -3, 1]
    pre = Preprocessor(method).fit(X)
    Z = pre.transform(X)
    if method in ("center", "standardize", "whiten"):
        np.testing.assert_allclose(Z.mean(0), 0, atol=1e-10)
    if method == "standardize":
        np.testing.assert_allclose(Z.std(0), 1, atol=1e-4)
    if method == "scale":
        np.testing.assert_allclose([Z.min(0), Z.max(0)], [[-1] * 3, [1] * 3], atol=1e-12)
    if method == "whiten":
        np.testing.assert_allclose(np.cov(Z, rowvar=False, bias=True), np.eye(3), atol=1e-3)


def test_splits_fit_on_train_only():
    spec = {"source": "blobs", "n": 200, "classes": 2, "val": 0.25, "test": 0.25, "preprocess": "center"}
    s = make_splits(spec)
    assert (len(s.train), len(s.val), len(s.test)) == (100, 50, 50)
    np.testing.assert_allclose(s.train.X.mean(0), 0, atol=1e-12)
    assert np.abs(s.test.X.mean(0)).max() > 1e-6  # the test split is shifted by the train mean only
    with pytest.raises(DataError, match="val \\+ test = 0.6 \\+ 0.5 leaves almost no training data"):
        make_splits({**spec, "val": 0.6, "test": 0.5})


def test_augmentation():
    rng = np.random.default_rng(0)
    X = np.arange(2 * 1 * 4 * 4, dtype=float).reshape(2, 1, 4, 4)
    flipped = augment(X, np.random.default_rng(1), flip=True)
    for a, b in zip(flipped, X):
        assert np.array_equal(a, b) or np.array_equal(a, b[:, :, ::-1])
    shifted = augment(X, rng, shift=1)
    assert shifted.shape == X.shape and not np.array_equal(shifted, X)
    jit = augment(X, rng, jitter=0.1)
    assert np.all(np.abs(jit - X) <= 0.1 * np.abs(X) + 0.1 + 1e-12)
    assert augment(X[:, 0, 0], rng, flip=True) is not None  # non-images pass through


def test_toy_sets_and_images():
    for name, gen in CLASSIFICATION.items():
        X, y = gen(n=120, seed=3)
        assert X.shape == (120, 2) and y.dtype == np.int64 and len(set(y.tolist())) >= 2, name
    for name, gen in REGRESSION.items():
        X, y = gen(n=50, seed=3)
        assert X.shape == (50, 2) and y.dtype == np.float64, name
    d = load_dataset({"source": "digits"})
    assert d.X.shape == (1797, 1, 8, 8) and d.classes == 10 and 0 <= d.X.min() and d.X.max() <= 1
    s = load_dataset({"source": "shapes", "n": 30, "size": 16})
    assert s.X.shape == (30, 1, 16, 16) and s.classes == 3
