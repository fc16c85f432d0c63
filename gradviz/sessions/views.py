"""What the dashboard's views draw, computed from a run (on the views' thread or the window's):
the decision boundary's frame and the hidden units' mosaics, the ConvNet views' filters,
predictions and one sample's saliency and feature maps. Plain arrays and text come out; the
panels only put them on screen. This is the one GUI floor that reads the engine's teaching
helpers (``gradviz_core.teach.insight``)."""
from __future__ import annotations

import numpy as np

from gradviz.look.colors import region_image
from gradviz.look.heat import diverging_rgb
from gradviz_core.errors import GradvizError
from gradviz_core.teach import insight

GRID = 200
HIDDEN_RES = 32

#: tiles of images into one picture (pure NumPy), for the views that lay out many small images
mosaic = insight.mosaic


def boundary_frame(session, discretize: bool, hidden: bool, owner: str) -> dict | None:
    """One frame of the view, as arrays ready to draw (computed on any thread): the regions
    (or the regression surface) on the grid, and the hidden units' mosaics."""
    got = session.boundary(GRID, owner)
    if got is None:
        return None
    scores, extent = got
    probe = session.probe(owner)
    regions = probe.program.bricks[probe.head[0]].predict_classes(scores.reshape(GRID * GRID, -1))
    out = {"extent": extent, "regression": regions is None}
    if regions is None:  # regression: the surface, on a diverging map
        out["image"] = diverging_rgb(scores[..., 0])
        out["caption"] = "the regression surface (blue below 0, red above)"
    else:
        conf = None if discretize else confidence_of(scores)
        out["image"] = region_image(regions.reshape(GRID, GRID), conf)
        out["caption"] = "class regions" + ("" if conf is None else "; paler where the net is unsure")
    if hidden:
        out["hidden"] = {}
        for name, units in insight.hidden_maps(probe, extent, HIDDEN_RES).items():
            tile = insight.mosaic(units, cols=int(np.ceil(np.sqrt(len(units) * 1.6))), pad=2)
            grey = np.where(np.isnan(tile), 1.0, 1 - 0.85 * tile)  # dark where the unit is active
            total = probe.graph.shapes[name][1]
            out["hidden"][name] = ((grey * 255).astype(np.uint8),
                                   f"{len(units)} units" if len(units) == total else f"{len(units)} of {total} units")
    return out


def confidence_of(scores: np.ndarray) -> np.ndarray:
    """How sure the net is at each grid point: the largest softmax probability rescaled to
    0..1 for K classes; for one score, its distance from the decision threshold."""
    if scores.shape[-1] > 1:
        z = np.exp(scores - scores.max(axis=-1, keepdims=True))
        top = 1 / z.sum(axis=-1)  # the largest probability: its exp(0) = 1 over the sum
        k = scores.shape[-1]
        return np.clip((top - 1 / k) / (1 - 1 / k), 0, 1)
    s = scores[..., 0]
    if s.min() >= 0 and s.max() <= 1:  # probabilities (after a sigmoid)
        return np.abs(2 * s - 1)
    return np.tanh(np.abs(s))



def convnet_state(probe, ds, sample: int, layer: str) -> dict | None:
    """Everything the ConvNet view's refresh draws that needs the net (any thread): the first
    layer's filters as one mosaic, the predictions over ``ds``, and one sample's maps."""
    if probe is None:
        return None
    filters = insight.first_filters(probe)
    if filters is not None:
        node, imgs = filters
        filters = (node, len(imgs), mosaic(imgs, pad=1))
    return {"filters": filters, "pred": insight.predictions(probe, ds), "ds": ds,
            "sample": sample_state(probe, ds, sample, layer)}


def sample_state(probe, ds, i: int, layer: str) -> dict:
    """One sample's saliency (the input gradient of its predicted class), its predicted class,
    and the feature maps of every convolution, each as one mosaic."""
    i = min(i, len(ds) - 1)
    x = ds.X[i]
    try:
        grad, cls, _ = probe.input_gradient(x)
        maps = insight.feature_maps(probe, x)
    except GradvizError as exc:
        return {"error": str(exc)}
    return {"i": i, "saliency": mosaic(insight.saliency_image(grad)[None]), "cls": cls, "layer": layer,
            "maps": {name: (len(m), mosaic(m, pad=1)) for name, m in maps.items()}}
