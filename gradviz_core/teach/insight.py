"""What the training dashboard shows, computed from a ``Probe`` (a copy of a run's graph on
a snapshot of its weights), with NumPy only: hidden units over the input plane, the first
layer's filters, feature maps, class predictions for a confusion matrix, saliency maps, and
mosaics that lay many small images out as one.

Nothing here touches the training run, so every function is safe while it trains.
"""
from __future__ import annotations

import numpy as np

from gradviz_core.runs.probe import Probe, grid_points


def mosaic(images: np.ndarray, cols: int | None = None, pad: int = 1, normalize: bool = True) -> np.ndarray:
    """Lay out n images (n, h, w) or (n, h, w, 3) as one image, rows of ``cols``, with NaN
    gutters (drawn as the background). With ``normalize`` each image is scaled to [0, 1] on
    its own, so a unit with small values still shows its pattern."""
    imgs = np.asarray(images, dtype=np.float64)
    n, h, w = imgs.shape[:3]
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    out = np.full((rows * (h + pad) - pad, cols * (w + pad) - pad) + imgs.shape[3:], np.nan)
    for i, img in enumerate(imgs):
        if normalize:
            lo, hi = np.nanmin(img), np.nanmax(img)
            img = (img - lo) / (hi - lo) if hi > lo else np.full_like(img, 0.5)
        r, c = divmod(i, cols)
        out[r * (h + pad):r * (h + pad) + h, c * (w + pad):c * (w + pad) + w] = img
    return out


def hidden_layers(probe: Probe) -> list[str]:
    """The hidden layers whose units can be drawn over a 2D input plane: activation nodes with
    one value per unit (N, units), before the scores."""
    scores = probe.head[1] if probe.head else None
    out = []
    for name in probe.program.order:
        b = probe.program.bricks[name]
        shape = probe.graph.shapes.get(name)
        if b.family == "Activations" and name != scores and shape is not None and len(shape) == 2:
            out.append(name)
    return out


def hidden_maps(probe: Probe, bounds, res: int = 40, limit: int = 64) -> dict[str, np.ndarray]:
    """{layer: (units, res, res)}: each hidden unit's activation over the input plane (the
    lecture's picture of units arranging themselves), at most ``limit`` units per layer."""
    layers = hidden_layers(probe)
    if not layers:
        return {}
    acts = probe.activations(grid_points(bounds, res))
    return {n: np.asarray(acts[n][:, :limit], np.float64).T.reshape(-1, res, res) for n in layers}


def conv_layers(probe: Probe) -> list[str]:
    """Nodes with convolution weights (K, C, F, F), in running order."""
    return [n for n in probe.program.order
            if np.ndim(probe.program.bricks[n].weights.get("W")) == 4]


def first_filters(probe: Probe) -> tuple[str, np.ndarray] | None:
    """(node, images) for the first convolution's filters: (K, F, F, 3) in colour when it
    reads 3 channels, else (K, F, F) (the mean over input channels)."""
    convs = conv_layers(probe)
    if not convs:
        return None
    W = np.asarray(probe.program.bricks[convs[0]].weights["W"], np.float64)
    imgs = np.moveaxis(W, 1, -1) if W.shape[1] == 3 else W.mean(axis=1)
    return convs[0], imgs


def feature_maps(probe: Probe, x: np.ndarray) -> dict[str, np.ndarray]:
    """{node: (channels, H, W)} for one sample of a split (preprocessed): the output of every node whose output
    is an image stack (convolutions, their activations, pooling), in running order."""
    acts = probe.activations(np.asarray(x)[None], prepared=True)
    return {n: np.asarray(v[0], np.float64) for n, v in acts.items()
            if np.ndim(v) == 4 and not probe.program.bricks[n].feeds}


def predictions(probe: Probe, ds) -> tuple[np.ndarray, np.ndarray] | None:
    """(true classes, predicted classes) over a split's samples, or None when the graph does not
    classify. Indices into ``ds`` pick a confusion cell's samples."""
    if not probe.head or ds is None or len(ds) == 0:
        return None
    truth = probe.truth(ds)
    if truth is None:
        return None
    pred = probe.program.bricks[probe.head[0]].predict_classes(probe.predict(ds.X, prepared=True))
    return (None if pred is None else (np.asarray(truth, np.int64), np.asarray(pred, np.int64)))


def saliency_image(grad: np.ndarray) -> np.ndarray:
    """The saliency map of an input gradient (C, H, W) or (D,): |∂score/∂x|, the largest
    over colour channels (Simonyan et al.)."""
    g = np.abs(np.asarray(grad, np.float64))
    return g.max(axis=0) if g.ndim == 3 else g
