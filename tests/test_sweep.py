"""gradviz sweep (issue 29): a grid or random draws of settings, trained in parallel, a table, a
plot, --json; a sweep interrupted (Ctrl+C, a kill) keeps every finished run, and the same
command goes on from there."""
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gradviz_core.runs import sweep as sw
from test_cli import run as cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
SPIRAL = EXAMPLES / "spiral_mlp.json"


def test_a_grid_runs_every_combination_and_prints_a_table_json_and_a_plot(tmp_path, qapp):
    results = tmp_path / "r.jsonl"
    args = ("sweep", SPIRAL, "--grid", "training.lr=0.1,1", "--grid", "fc1.units=3,30", "--epochs", "40",
            "--results", results)
    code, out, err = cli(*args, "--json")
    assert code == 0, err
    lines = [json.loads(l) for l in out.splitlines()]
    runs = [l for l in lines if l["kind"] == "run"]
    assert sorted((r["settings"]["training.lr"], r["settings"]["fc1.units"]) for r in runs) == \
        [("0.1", "3"), ("0.1", "30"), ("1", "3"), ("1", "30")]
    assert all(r["status"] == "done" and 0 <= r["train_acc"] <= 1 for r in runs)
    summary = lines[-1]
    assert summary["kind"] == "summary" and summary["runs"] == 4
    assert summary["best"]["train_acc"] == max(r["train_acc"] for r in runs)
    # again, with a table and a plot: nothing runs twice, the table ranks the four
    code, out, err = cli(*args, "--plot", tmp_path / "grid.png")
    assert code == 0, err
    assert "4 already in" in err and "[1/4]" not in err
    table = out.splitlines()
    assert table[0].split() == ["training.lr", "fc1.units", "training", "accuracy"]
    scores = [float(l.split()[-1].rstrip("%")) for l in table[1:5]]
    assert scores == sorted(scores, reverse=True)
    assert table[5].startswith("best: ") and (tmp_path / "grid.png").stat().st_size > 5000
    # the heatmap writes each run's score in its cell, as the table has it
    from gradviz.panels.sweep import SweepView
    view = SweepView()
    axes = [sw.parse_grid("training.lr=0.1,1"), sw.parse_grid("fc1.units=3,30")]
    view.show_drawing(sw.drawing(axes, runs, 4))
    assert sorted(view.cell_texts) == sorted(f"{s:.1f}%" for s in scores)
    assert view.title.text().startswith("Sweep: 4 of 4 runs; the best, ")


@pytest.mark.parametrize("seed", range(5))
def test_random_draws_are_log_uniform_for_rates_whole_for_int_and_seeded(seed):
    ranges = [sw.parse_range("training.lr=1e-4:1"), sw.parse_range("fc1.units=2:100:int"),
              sw.parse_range("data.noise=0:0.5")]
    assert [a.scale for a in ranges] == ["log", "int", "linear"]
    runs = sw.plan([], ranges, 400, seed)
    assert runs == sw.plan([], ranges, 400, seed) and runs != sw.plan([], ranges, 400, seed + 1)
    lr = np.log10([float(r["training.lr"]) for r in runs])
    units = [r["fc1.units"] for r in runs]
    assert lr.min() >= -4 and lr.max() <= 0 and abs(np.median(lr) + 2) < 0.5  # 5 σ of the median
    assert all(u.isdigit() and 2 <= int(u) <= 100 for u in units)
    assert all(0 <= float(r["data.noise"]) <= 0.5 for r in runs)
    grid = sw.plan([sw.parse_grid("training.optimizer=sgd,adam")], ranges, 3, seed)
    assert len(grid) == 6 and {r["training.optimizer"] for r in grid} == {"sgd", "adam"}


@pytest.mark.parametrize("args, says", [
    (("--grid", "fc9.units=2,3"), "fc9"),
    (("--grid", "training.lr"), "--grid 'training.lr': write KEY=V1,V2,…"),
    (("--random", "3"), "--random N needs at least one --range"),
    (("--range", "training.lr=1:0.1", "--random", "2"), "LOW must be below HIGH"),
    (("--range", "training.lr=0:1:log", "--random", "2"), "a log-uniform range starts above 0"),
    ((), "give what to search"),
])
def test_a_sweep_that_cannot_run_says_why_before_any_run(args, says, tmp_path):
    code, _, err = cli("sweep", SPIRAL, *args, "--results", tmp_path / "r.jsonl")
    assert code == 2 and says in err and "Traceback" not in err, err
    assert not (tmp_path / "r.jsonl").exists()


def _start(tmp_path, grid):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    return subprocess.Popen([sys.executable, "-m", "gradviz", "sweep", str(SPIRAL), "--grid", grid, "--jobs", "2",
                             "--results", str(tmp_path / "r.jsonl")], cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, start_new_session=True)


def _lines(path):
    return [json.loads(l) for l in path.read_text().splitlines()] if path.exists() else []


def _wait_for(path, n, p, timeout=120):
    end = time.monotonic() + timeout
    while len(_lines(path)) < n:
        assert p.poll() is None, p.communicate()
        assert time.monotonic() < end, "the short runs did not finish"
        time.sleep(0.1)


def _workers_gone(pgid, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.1)
    return False


@pytest.mark.parametrize("how", ["ctrl-c", "kill -9"])
def test_an_interrupted_sweep_keeps_every_finished_run_and_goes_on_from_there(how, tmp_path):
    """Two short runs finish, two long ones are under way: Ctrl+C (to the whole terminal's group)
    or a kill -9 of the sweep ends them all at once; the two finished runs are in the file, whole,
    and the same sweep started again runs only what is missing."""
    p = _start(tmp_path, "training.epochs=10,20,300000,400000")
    _wait_for(tmp_path / "r.jsonl", 2, p)
    if how == "ctrl-c":
        os.killpg(p.pid, signal.SIGINT)
    else:
        os.kill(p.pid, signal.SIGKILL)
    out, err = p.communicate(timeout=30)
    assert _workers_gone(p.pid), "a worker trains on after its sweep ended"
    kept = _lines(tmp_path / "r.jsonl")
    assert sorted(r["settings"]["training.epochs"] for r in kept) == ["10", "20"]
    assert all(r["status"] == "done" for r in kept)
    if how == "ctrl-c":
        assert p.returncode == 130 and "Traceback" not in err
        assert "sweep interrupted: 2 of 4 runs are kept in" in err
    code, out, err = cli("sweep", SPIRAL, "--grid", "training.epochs=10,20,30", "--results", tmp_path / "r.jsonl")
    assert code == 0, err
    assert "2 already in" in err and "[3/3] training.epochs = 30" in err and "[1/3]" not in err
    assert len(_lines(tmp_path / "r.jsonl")) == 3


def test_train_sweep_in_the_window_shows_each_run_as_it_ends_and_stops(qtbot, monkeypatch, tmp_path):
    """Train > Sweep…: a grid of the document as it is (an edit not saved included), its runs
    ranked in the table and drawn as they end; Stop ends a long sweep and keeps what finished;
    closing the window while a sweep runs does not wait for it."""
    pytest.importorskip("pytestqt")
    import shutil
    from PySide6.QtWidgets import QMessageBox
    from gradviz.app.main_window import MainWindow
    from gradviz_core.model.commands import SetParam
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Discard)
    shutil.copy(SPIRAL, tmp_path / "spiral.json")
    w = MainWindow(str(tmp_path / "spiral.json"))
    qtbot.addWidget(w)
    w.show()
    w.scene.push(SetParam("fc1", "units", 7))  # not saved: the sweep takes the document as it is
    action = next(a for m in w.menuBar().actions() for a in m.menu().actions() if "Sweep meta-parameters" in a.text().replace("&", ""))
    action.trigger()
    d = w.sweep_window
    assert d.isVisible()
    d.grid.setPlainText("training.lr=0.3,3\ntraining.epochs=30")
    d.run_button.click()
    assert not d.run_button.isEnabled() and "2 runs" in d.status.text()
    qtbot.waitUntil(lambda: d.run_button.isEnabled(), timeout=60000)
    assert d.status.text() == "2 of 2 runs done", d.status.text()
    assert d.table.rowCount() == 2 and d.table.horizontalHeaderItem(0).text() == "training.lr"
    shown = [d.table.item(i, 2).text() for i in range(2)]
    assert all(t.endswith("%") for t in shown) and float(shown[0][:-1]) >= float(shown[1][:-1])
    assert "the best" in d.view.title.text()
    kept = _lines(tmp_path / "spiral.sweep.jsonl")
    assert len(kept) == 2 and all(r["settings"]["training.epochs"] == "30" for r in kept)
    # a mistyped key: said in the dialog, nothing runs
    d.grid.setPlainText("fc9.units=1,2")
    d.run_button.click()
    assert "fc9" in d.status.text() and d.run_button.isEnabled()
    # a long sweep, stopped
    d.grid.setPlainText("training.lr=0.5,1,2,4\ntraining.epochs=200000")
    d.run_button.click()
    qtbot.wait(500)
    d.stop_button.click()
    qtbot.waitUntil(lambda: d.run_button.isEnabled(), timeout=20000)
    assert "stopped" in d.status.text()
    d.grid.setPlainText("training.lr=0.5,1,2,4\ntraining.epochs=200000")
    d.run_button.click()
    start = time.monotonic()
    w.close()
    assert time.monotonic() - start < 15 and not w.sweeper.running


def test_a_run_that_fails_is_recorded_with_its_reason_and_the_sweep_goes_on(tmp_path):
    """A setting whose run cannot train (an empty data file) fails that run only, with the reason
    in its record and in the table; the other run ends as it should."""
    import shutil
    shutil.copy(EXAMPLES / "lesson_preprocessing.json", tmp_path / "g.json")
    shutil.copy(EXAMPLES / "lesson_preprocessing.csv", tmp_path / "lesson_preprocessing.csv")
    (tmp_path / "empty.csv").write_text("a,b,label\n")
    code, out, err = cli("sweep", tmp_path / "g.json", "--grid", "data.path=lesson_preprocessing.csv,empty.csv",
                         "--grid", "training.epochs=2", "--results", tmp_path / "r.jsonl")
    assert code == 0, err
    kept = {r["settings"]["data.path"]: r for r in _lines(tmp_path / "r.jsonl")}
    assert kept["lesson_preprocessing.csv"]["status"] in ("done", "diverged")
    assert kept["empty.csv"]["status"] == "error" and "empty.csv" in kept["empty.csv"]["message"]
    assert "error: " in out and "empty.csv" in out
