"""Render the README's screenshots from the real app, offscreen, with ``gradviz render``:

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


def main() -> None:
    out = ROOT / "docs"
    out.mkdir(exist_ok=True)
    for name, graph, steps, select in SHOTS:
        subprocess.run([sys.executable, "-m", "gradviz", "render", str(ROOT / "examples" / graph), "-o",
                        str(out / name), "--steps", steps, "--select", select], check=True, cwd=ROOT)


if __name__ == "__main__":
    main()
