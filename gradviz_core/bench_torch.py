"""The reference nets in PyTorch CPU eager, for ``gradviz bench`` (run in its own process).

Prints one JSON line: {"nets": {"<net>-b<batch>": samples/s}, "grid_ms": ms}.
"""
from __future__ import annotations

import json
import sys

from gradviz_core.bench import GRID, NETS, THREADS, _rate


def module(net: str):
    import torch.nn as nn

    shape, classes, layers, _ = NETS[net]
    mods, c, h, w = [], shape[0], (shape[1] if len(shape) > 1 else 1), (shape[2] if len(shape) > 1 else 1)
    feat = shape[0]
    for t, p in layers:
        if t == "Conv2D":
            mods.append(nn.Conv2d(c, p["filters"], p["size"], padding=p["padding"]))
            c, h, w = p["filters"], h + 2 * p["padding"] - p["size"] + 1, w + 2 * p["padding"] - p["size"] + 1
        elif t == "MaxPool2D":
            mods.append(nn.MaxPool2d(p["size"]))
            h, w = h // p["size"], w // p["size"]
        elif t == "ReLU":
            mods.append(nn.ReLU())
        elif t == "Flatten":
            mods.append(nn.Flatten())
            feat = c * h * w
        elif t == "Linear":
            mods.append(nn.Linear(feat, p["units"]))
            feat = p["units"]
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
