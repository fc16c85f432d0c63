"""``docs/backprop.md``: how backprop is computed here, brick by brick, generated from the
bricks' own declarations (their forward and backward formulas) with a link to each one's
code, so the page says what the code does.

    python -m gradviz_core.teach.backprop_doc      # rewrites docs/backprop.md

A test fails when the page in the repo and the bricks disagree.
"""
from __future__ import annotations

import inspect
from pathlib import Path

from gradviz_core.model.registry import FAMILIES, brick_types, get_brick_class

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "backprop.md"

INTRO = """# How backprop is computed here

Every node of a graph is a *brick* (`gradviz_core/bricks/`). A brick's `forward(inputs,
training)` computes its output from its inputs and keeps what its backward pass needs
(its *cache*); its `backward(upstream)` receives dL/d(output) and returns a fresh
gradient for each input port, and adds the gradient of each of its weights into the
brick. `gradviz_core/engine.py` runs the nodes in topological order forward, then in
reverse order backward: each node's upstream gradient is the sum of what its consumers
sent back (a fan-out sums, edge by edge), and an objective node (a loss, a regularizer)
starts from 1. That is the chain rule, node by node: dL/dx = dL/dout · ∂out/∂x.

The stepper (`gradviz_core/stepper.py`) and the trainer (`gradviz_core/train.py`) call the
same node methods, so what the window shows is what training computes. Every backward
pass below is checked against centred finite differences in float64
(`tests/test_bricks.py`), and `Step > Check gradients` checks a whole graph the same way.

This page is generated from the bricks' declarations (`python -m gradviz_core.teach.backprop_doc`).
"""


def page() -> str:
    out = [INTRO]
    for family in FAMILIES:
        names = brick_types(family)
        if not names:
            continue
        out.append(f"\n## {family}\n")
        for name in names:
            cls = get_brick_class(name)
            path = Path(inspect.getsourcefile(cls)).resolve().relative_to(ROOT).as_posix()
            line = inspect.getsourcelines(cls)[1]
            out.append(f"\n### {name}\n")
            if cls.doc:
                out.append(f"\n{cls.doc}\n")
            if cls.forward_text:
                out.append(f"\n- forward: `{cls.forward_text}`")
            if cls.backward_text:
                out.append(f"\n- backward: `{cls.backward_text}`")
            out.append(f"\n- code: [`{path}`, line {line}](../{path}#L{line})\n")
    return "".join(out)


def write() -> None:
    PAGE.parent.mkdir(exist_ok=True)
    PAGE.write_text(page(), encoding="utf-8")


if __name__ == "__main__":
    write()
    print(f"wrote {PAGE}")
