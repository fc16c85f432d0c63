"""The reference nets in PyTorch CPU eager, for ``gradviz bench`` (run in its own process).

Prints one JSON line: {"nets": {"<net>-b<batch>": samples/s}, "grid_ms": ms}.
"""
from __future__ import annotations

import json
import sys

from gradviz_core.perf.bench import GRID, NETS, THREADS, _rate, build


def module(net: str):
    """The reference net as a ``torch.nn.Sequential``, layer by layer from the bricks' own
    ``torch_layer`` declarations (no type names are switched on here)."""
    import torch.nn as nn

    g = build(net, NETS[net][3][0])
    mods = []
    for name in g.order:
        layer = g.brick(name).torch_layer(g.input_shapes(name))
        if layer is not None:
            cls, kwargs = layer
            mods.append(getattr(nn, cls)(**kwargs))
    return nn.Sequential(*mods)


def main(seconds: float) -> None:
    import torch

    torch.set_num_threads(THREADS)
    torch.manual_seed(0)
    nets = {}
    for net, (shape, classes, _, batches) in NETS.items():
        for bs in batches:
            m = module(net)
            opt = torch.optim.SGD(m.parameters(), lr=0.01)
            loss = torch.nn.CrossEntropyLoss()
            x, y = torch.randn(bs, *shape), torch.randint(0, classes, (bs,))

            def step():
                opt.zero_grad()
                loss(m(x), y).backward()
                opt.step()
            nets[f"{net}-b{bs}"] = bs * _rate(step, seconds)
    m = module("mlp")
    pts = torch.rand(GRID * GRID, 2) * 2 - 1
    with torch.no_grad():
        grid_ms = 1e3 / _rate(lambda: m(pts), seconds)
    print(json.dumps({"nets": nets, "grid_ms": grid_ms}))


if __name__ == "__main__":
    main(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0)
