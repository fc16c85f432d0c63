"""Render the README's screenshots from the real app, offscreen, with ``gradviz render`` (the
dashboard ones train in the window first, with ``--train``):

    python tools/screenshots.py
"""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SHOTS = [  # (file, graph, steps, selected node)
    ("editor-circuit.png", "circuit_xyz.json", "0", "q"),
    ("editor-convnet.png", "digits_convnet.json", "0", "conv2"),
    ("stepper-circuit.png", "circuit_xyz.json", "all", "q"),
    ("stepper-convnet.png", "digits_convnet.json", "backward", "conv1"),
]
TRAINED = [  # (file, graph, epochs, view): the dashboard after training in the window
    ("dashboard-spiral.png", "spiral_mlp.json", "1000", "dashboard"),
    ("dashboard-digits.png", "digits_convnet.json", "15", "dashboard"),
    ("diagnostics-digits.png", "digits_convnet.json", "15", "diagnostics"),
    ("lesson-width.png", "lesson_width.json", "150", "dashboard"),
    ("lesson-overfitting.png", "lesson_overfitting.json", "400", "loss"),
]
LESSONS = [  # (file, graph, steps, selected node): lessons stepped, their note beside them
    ("lesson-losses.png", "lesson_losses.json", "all", "L_hinge"),
    ("lesson-alexnet.png", "lesson_alexnet.json", "2", "conv1"),
]
SWEEPS = [  # (file, graph, sweep arguments): gradviz sweep's plot of lesson 17's two searches
    ("sweep-grid.png", "lesson_search.json",
     ["--grid", "training.lr=0.01,0.316,10", "--grid", "reg.lam=1e-6,1e-5,1e-4"]),
    ("sweep-random.png", "lesson_search.json",
     ["--random", "9", "--range", "training.lr=0.01:10", "--range", "reg.lam=1e-6:1e-4"]),
]
RACES = [  # (file, graph): the optimizer playground, its race run to the end
    ("lesson-saddle.png", "lesson_saddle.json"),
]


def main() -> None:
    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    for name, graph, steps, select in SHOTS:
        subprocess.run([sys.executable, "-m", "gradviz", "render", str(ROOT / "examples" / graph), "-o",
                        str(out / name), "--steps", steps, "--select", select], check=True, cwd=ROOT)
    for name, graph, steps, select in LESSONS:
        subprocess.run([sys.executable, "-m", "gradviz", "render", str(ROOT / "examples" / graph), "-o",
                        str(out / name), "--steps", steps, "--select", select], check=True, cwd=ROOT)
    for name, graph in RACES:
        subprocess.run([sys.executable, "-m", "gradviz", "render", str(ROOT / "examples" / graph), "-o",
                        str(out / name), "--race", "--size", "1400x900"], check=True, cwd=ROOT)
    import tempfile
    for name, graph, args in SWEEPS:
        with tempfile.TemporaryDirectory() as tmp:  # every run afresh: the picture is of this code
            subprocess.run([sys.executable, "-m", "gradviz", "sweep", str(ROOT / "examples" / graph), *args,
                            "--results", str(Path(tmp) / "r.jsonl"), "--plot", str(out / name)], check=True, cwd=ROOT)
    # the worksheet's first page, as printed (pdftoppm, from poppler-utils, draws it)
    import shutil
    if shutil.which("pdftoppm"):
        with tempfile.TemporaryDirectory() as tmp:
            pdf = str(Path(tmp) / "sheet.pdf")
            subprocess.run([sys.executable, "-m", "gradviz", "worksheet", str(ROOT / "examples" / "sigmoid_neuron.json"),
                            "-o", pdf], check=True, cwd=ROOT)
            subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", "-singlefile", pdf,
                            str(out / "worksheet-neuron")], check=True)
    for name, graph, epochs, view in TRAINED:
        subprocess.run([sys.executable, "-m", "gradviz", "render", str(ROOT / "examples" / graph), "-o",
                        str(out / name), "--train", epochs, "--view", view, "--size", "1400x900"],
                       check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
