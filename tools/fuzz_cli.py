"""Fuzz the headless verbs with broken settings: every example, with one setting of its
``data`` or ``training`` section (or one node parameter) replaced by a hostile value.

    python tools/fuzz_cli.py [--seconds 300] [--seed 0]

Counts, per verb, the exit codes and the results that reached "internal error" (exit 3)
or printed a traceback. Each case runs in-process through ``gradviz.cli.main``.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import random
import os
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

HOSTILE = [0, 1, -1, 2, True, False, None, 0.0, 0.5, 0.999, 2.0, -2.5, 1e12, 1e308, -1e308,
           "x", "", [1, 2], [], {"rotate": 1}, {}, [-1, -2], "adam", 65, 1e-7]
DATA_KEYS = ["source", "n", "classes", "noise", "seed", "val", "test", "split_seed", "preprocess",
             "augment", "shape", "label", "path", "n_train", "rotate"]
TRAINING_KEYS = ["optimizer", "lr", "momentum", "beta1", "beta2", "decay", "eps", "batch_size",
                 "epochs", "seed", "schedule", "step_every", "step_factor", "exp_k",
                 "plateau_patience", "early_stopping", "freeze", "init_from", "diagnostics_every",
                 "overfit", "diverge_factor", "learning_rate"]
VERBS = {"step": ["--json"], "gradcheck": ["--json", "--samples", "4"],
         "train": ["--json", "--steps", "3", "--epochs", "1"],
         "export": ["-o", os.path.join(tempfile.gettempdir(), "gradviz-fuzz-export.py")],
         "export-numpy": ["--to", "numpy", "-o", os.path.join(tempfile.gettempdir(), "gradviz-fuzz-study.py")]}


CSV_FILES = {
    "missing.csv": "a,b,label\n1,,0\n2,3,1\n",
    "text.csv": "a,b,label\n1,x,0\n2,3,1\n",
    "labels_only.csv": "label\n0\n1\n",
    "ragged.csv": "a,b,label\n1,2\n2,3,1\n",
    "negative.csv": "a,b,label\n1,2,-1\n2,3,1\n",
    "empty.csv": "",
}


def cases(rng: random.Random):
    examples = sorted((ROOT / "examples").glob("*.json"))
    from gradviz_core import brick_types
    types = brick_types()
    while True:
        path = rng.choice(examples)
        doc = json.loads(path.read_text())
        where = rng.random()
        value = rng.choice(HOSTILE)
        if where < 0.05 and doc["edges"]:
            doc["edges"].pop(rng.randrange(len(doc["edges"])))
            yield path.name, "an edge removed", None, doc
            continue
        if where < 0.1:
            node = rng.choice(doc["nodes"])
            node["type"] = rng.choice(types)
            yield path.name, f"{node['name']}.type", node["type"], doc
            continue
        if where < 0.15:
            name = rng.choice([*CSV_FILES, "no_such.csv", "."])
            doc["data"] = {"source": "csv", "path": name}
            yield path.name, "data.path", name, doc
            continue
        if where < 0.4:
            key = rng.choice(DATA_KEYS)
            doc["data"] = dict(doc.get("data") or {"source": "spiral"}, **{key: value})
            what = f"data.{key}"
        elif where < 0.8:
            key = rng.choice(TRAINING_KEYS)
            doc["training"] = dict(doc.get("training") or {}, **{key: value})
            what = f"training.{key}"
        else:
            node = rng.choice(doc["nodes"])
            key = rng.choice(list(node.get("params") or {}) + ["name", "units", "size", "p", "value", "stride",
                                                               "padding", "groups", "filters", "encoding",
                                                               "lam", "weights", "form", "column", "of"])
            node["params"] = dict(node.get("params") or {}, **{key: value})
            what = f"{node['name']}.{key}"
        yield path.name, what, value, doc


def run_case(doc: dict, verb: str, folder: Path) -> tuple[int, str]:
    from gradviz.cli import main

    path = folder / "case.json"
    path.write_text(json.dumps(doc))
    for name, text in CSV_FILES.items():
        if not (folder / name).exists():
            (folder / name).write_text(text)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([verb.split("-")[0], str(path), *VERBS[verb]])
        except SystemExit as exc:  # argparse
            code = exc.code
        except BaseException as exc:  # noqa: BLE001 - counted, never hidden
            code, err = -1, io.StringIO(f"Traceback: {type(exc).__name__}: {exc}")
    return code, err.getvalue()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--show", type=int, default=30, help="how many bad cases to print")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    counts = {v: Counter() for v in VERBS}
    bad = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for (name, what, value, doc), verb in zip(cases(rng), (v for _ in iter(int, 1) for v in VERBS)):
            if time.time() - t0 > args.seconds:
                break
            code, err = run_case(doc, verb, folder)
            counts[verb][code] += 1
            if code not in (0, 1, 2) or "Traceback" in err:
                bad.append((verb, name, what, value, err.strip().splitlines()[-1:] or [""]))
    for verb, c in counts.items():
        total = sum(c.values())
        print(f"{verb}: {total} files, exit codes {dict(sorted(c.items()))}")
    print(f"{len(bad)} results with exit 3 or a traceback")
    for verb, name, what, value, last in bad[:args.show]:
        print(f"  {verb} {name} {what}={value!r}: {last[0][:200]}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
