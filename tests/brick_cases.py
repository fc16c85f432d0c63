"""Random inputs for every brick, for the gradient checks (float64) and dtype checks.

``CASES[type_name](rng)`` yields (params, inputs, training) triples on randomized shapes.
"""
from __future__ import annotations

import numpy as np


def _n(rng):
    return int(rng.integers(2, 5))


def _away(rng, shape, low=0.3):
    """Normal values kept at least ``low`` away from 0."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < low, np.sign(x + 1e-12) * low, x) + 0.0


def binary_shapes(rng):
    n, d = _n(rng), int(rng.integers(1, 4))
    return [((), ()), ((n, d), (d,)), ((n, d), (n, d)), ((n, 1), (1, d)), ((), (n, d))]


def _binary(low_b=None):
    def cases(rng):
        for sa, sb in binary_shapes(rng):
            a = rng.standard_normal(sa)
            b = _away(rng, sb, 0.5) if low_b else rng.standard_normal(sb)
            yield {}, {"a": np.asarray(a), "b": np.asarray(b)}, True
    return cases


def _unary(make_x, params=({},), scalar=True):
    def cases(rng):
        n, d = _n(rng), int(rng.integers(1, 5))
        for shape in [(), (n, d), (n, 2, 3, 3)][0 if scalar else 1:]:
            for p in params:
                yield dict(p), {"x": np.asarray(make_x(rng, shape))}, True
    return cases


def _normal(rng, shape):
    return rng.standard_normal(shape)


def _positive(rng, shape):
    return rng.uniform(0.5, 2.0, shape)


def conv_cases(rng):
    for stride, pad, groups, f in [(1, 0, 1, 3), (2, 1, 1, 3), (1, 2, 2, 3), (2, 0, 2, 1),
                                   (3, 1, 1, 2), (1, 1, 4, 3)]:
        c = groups * int(rng.integers(1, 3))
        k = groups * int(rng.integers(1, 3))
        ho, wo = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        h, w = (ho - 1) * stride + f - 2 * pad, (wo - 1) * stride + f - 2 * pad
        h, w = max(h, 1), max(w, 1)
        if (h - f + 2 * pad) % stride or (w - f + 2 * pad) % stride or h - f + 2 * pad < 0:
            continue
        params = {"filters": k, "size": f, "stride": stride, "padding": pad, "groups": groups,
                  "bias": bool(rng.integers(0, 2))}
        yield params, {"x": rng.standard_normal((_n(rng), c, h, w))}, True


def rect_conv_cases(rng):
    """Rectangular filters and strides (Inception's 1×7 and 7×1), on the NumPy reference."""
    for (fh, fw), (sh, sw), pad in [((1, 3), (1, 1), 0), ((3, 1), (1, 2), 1), ((2, 3), (2, 1), 0)]:
        ho, wo = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        h, w = (ho - 1) * sh + fh - 2 * pad, (wo - 1) * sw + fw - 2 * pad
        if h < 1 or w < 1:
            continue
        yield ({"filters": 2, "size": fh, "size_w": fw, "stride": sh, "stride_w": sw, "padding": pad},
               {"x": rng.standard_normal((_n(rng), 2, h, w))}, True)


def rect_pool_cases(rng):
    for (fh, fw), (sh, sw) in [((1, 2), (1, 2)), ((3, 2), (2, 1)), ((2, 1), (1, 1))]:
        ho, wo = int(rng.integers(1, 3)), int(rng.integers(1, 3))
        yield ({"size": fh, "size_w": fw, "stride": sh, "stride_w": sw},
               {"x": rng.standard_normal((_n(rng), 2, (ho - 1) * sh + fh, (wo - 1) * sw + fw))}, True)


def _both(*makers):
    def cases(rng):
        for make in makers:
            yield from make(rng)
    return cases


def pool_cases(rng):
    for size, stride, pad in [(2, 0, 0), (2, 1, 0), (3, 2, 1), (3, 1, 1), (2, 2, 1), (1, 1, 0)]:
        s = stride or size
        ho, wo = int(rng.integers(1, 4)), int(rng.integers(1, 4))
        h, w = (ho - 1) * s + size - 2 * pad, (wo - 1) * s + size - 2 * pad
        if h < 1 or w < 1:
            continue
        yield ({"size": size, "stride": stride, "padding": pad},
               {"x": rng.standard_normal((_n(rng), int(rng.integers(1, 3)), h, w))}, True)


def batchnorm_cases(rng):
    n = int(rng.integers(3, 6))
    for shape in [(n, int(rng.integers(1, 5))), (n, int(rng.integers(1, 4)), 3, 2)]:
        for training in (True, False):
            yield {"momentum": 0.8}, {"x": rng.standard_normal(shape) * 2 + 1}, training


def dropout_cases(rng):
    for mode in ("inverted", "test_scaling"):
        for training in (True, False):
            for means in ("drop", "keep"):
                yield ({"p": float(rng.uniform(0.2, 0.7)), "mode": mode, "p_means": means,
                        "seed": int(rng.integers(0, 99))},
                       {"x": rng.standard_normal((_n(rng), int(rng.integers(2, 6))))}, training)


def _elementwise_loss(targets):
    def cases(rng):
        n, d = _n(rng), int(rng.integers(1, 4))
        for kind in targets:
            x = rng.standard_normal((n, d))
            if kind == "real":
                t = rng.standard_normal((n, d))
            elif kind == "real_flat":
                x, t = rng.standard_normal((n, 1)), rng.standard_normal((n,))
            elif kind == "prob":
                x, t = rng.uniform(0.05, 0.95, (n, d)), rng.integers(0, 2, (n, d))
            elif kind == "prob_soft":
                x, t = rng.uniform(0.05, 0.95, (n, d)), rng.uniform(0, 1, (n, d))
            elif kind == "binary":
                t = rng.integers(0, 2, (n, d))
            elif kind == "soft":
                t = rng.uniform(0, 1, (n, d))
            elif kind == "pm1":
                x, t = rng.standard_normal((n,)), rng.choice([-1.0, 1.0], (n,))
            yield {}, {"x": x, "target": t}, True
    return cases


def _class_loss(targets, params=({},)):
    def cases(rng):
        n, k = _n(rng), int(rng.integers(2, 5))
        for p in params:
            for kind in targets:
                s = rng.standard_normal((n, k))
                y = rng.integers(0, k, n)
                t = {"index": y, "onehot": np.eye(k)[y], "soft": rng.dirichlet(np.ones(k), n)}[kind]
                yield dict(p), {"x": s, "target": t}, True
    return cases


def weighted_sum_cases(rng):
    for k in (1, 2, 3):
        w = tuple(float(v) for v in rng.uniform(0.1, 2.0, k))
        yield {"weights": w}, {f"in{i}": np.asarray(rng.standard_normal()) for i in range(k)}, True


def _images(rng, c=None):
    return rng.standard_normal((_n(rng), c or int(rng.integers(1, 4)), int(rng.integers(1, 5)), int(rng.integers(1, 5))))


def lrn_cases(rng):
    for size, alpha, beta, k in [(5, 1e-4, 0.75, 2.0), (3, 0.5, 0.75, 1.0), (1, 0.3, 0.5, 1.0), (5, 1.0, 1.2, 0.5)]:
        yield ({"size": size, "alpha": alpha, "beta": beta, "k": k},
               {"x": rng.standard_normal((_n(rng), int(rng.integers(1, 8)), 2, 3)) * 1.5}, True)


def prelu_cases(rng):
    for shape in [(_n(rng), int(rng.integers(1, 5))), (_n(rng), int(rng.integers(1, 4)), 3, 2)]:
        yield {}, {"x": _away(rng, shape)}, True


def merge_cases(kind):
    def cases(rng):
        for k in (2, 3, 5):
            n, h, w = _n(rng), int(rng.integers(1, 4)), int(rng.integers(1, 4))
            for rank in (2, 4):
                chans = [int(rng.integers(1, 4)) if kind == "Concat" else 3 for _ in range(k)]
                yield {"inputs": k}, {f"in{i}": rng.standard_normal((n, c, h, w) if rank == 4 else (n, c))
                                      for i, c in enumerate(chans)}, True
    return cases


def pad_cases(rng):
    for sides in [(1, 1, 1, 1), (0, 2, 1, 0), (3, 0, 0, 0), (0, 0, 0, 0), (-1, 1, 0, -1), (1, -1, -1, 2)]:
        x = rng.standard_normal((_n(rng), int(rng.integers(1, 4)), int(rng.integers(2, 5)), int(rng.integers(2, 5))))
        yield dict(zip(("top", "bottom", "left", "right"), sides)), {"x": x}, True  # −∞: test_zoo_bricks


CASES = {
    "Add": _binary(), "Subtract": _binary(), "Multiply": _binary(), "Divide": _binary(low_b=True),
    "Max": _binary(), "Min": _binary(),
    "MatMul": lambda rng: [({}, {"a": rng.standard_normal((3, 4)), "b": rng.standard_normal((4, 2))}, True),
                           ({}, {"a": rng.standard_normal(4), "b": rng.standard_normal((4, 3))}, True)],
    "Exp": _unary(_normal), "Log": _unary(_positive), "Reciprocal": _unary(_away),
    "Negate": _unary(_normal), "Power": _unary(_positive, ({"p": 2.0}, {"p": 3.0}, {"p": -1.5})),
    "Square": _unary(_normal), "AddConstant": _unary(_normal, ({"c": 1.0}, {"c": -2.5})),
    "Scale": _unary(_normal, ({"c": -1.0}, {"c": 0.3})),
    "Sum": _unary(_normal, ({"over": "all"}, {"over": "batch"}, {"over": "features"}), scalar=False),
    "Mean": _unary(_normal, ({"over": "all"}, {"over": "batch"}, {"over": "features"}), scalar=False),
    "Linear": lambda rng: [({"units": int(rng.integers(1, 6)), "bias": b},
                            {"x": rng.standard_normal((_n(rng), int(rng.integers(1, 6))))}, True)
                           for b in (True, False)],
    "Conv2D": _both(conv_cases, rect_conv_cases), "MaxPool2D": _both(pool_cases, rect_pool_cases),
    "AvgPool2D": _both(pool_cases, rect_pool_cases),
    "Flatten": lambda rng: [({}, {"x": rng.standard_normal((_n(rng), 2, 3, 2))}, True)],
    "Dropout": dropout_cases, "BatchNorm": batchnorm_cases,
    "Sigmoid": _unary(_normal), "Tanh": _unary(_normal), "ReLU": _unary(_away),
    "LeakyReLU": _unary(_away, ({"alpha": 0.01}, {"alpha": 0.2})),
    "Ramp": _unary(lambda rng, s: _away(rng, s) * 0.6 + np.where(rng.random(s) < 0.5, 1.5, 0.0)),
    "ELU": _unary(_away, ({"alpha": 1.0}, {"alpha": 0.5})),
    "Softmax": lambda rng: [({}, {"x": rng.standard_normal((_n(rng), int(rng.integers(2, 5))))}, True)],
    "SquareLoss": _elementwise_loss(("real", "real_flat")),
    "MSELoss": _elementwise_loss(("real", "real_flat")),
    "BinaryCrossEntropy": _elementwise_loss(("prob", "prob_soft")),
    "BCEWithLogits": _elementwise_loss(("binary", "soft")),
    "LogisticLoss": _elementwise_loss(("pm1",)),
    "HingeLoss": _elementwise_loss(("pm1",)),
    "SoftmaxCrossEntropy": _class_loss(("index", "onehot", "soft")),
    "MaxMarginLoss": _class_loss(("index", "onehot"), ({"form": "sum"}, {"form": "max"})),
    "WeightedSum": weighted_sum_cases,
    "LRN": lrn_cases, "PReLU": prelu_cases, "SELU": _unary(_away), "Softplus": _unary(_normal),
    "LogSoftmax": lambda rng: [({}, {"x": rng.standard_normal((_n(rng), int(rng.integers(2, 6))))}, True)],
    "GlobalAvgPool2D": lambda rng: [({}, {"x": _images(rng)}, True) for _ in range(3)],
    "Pad2D": pad_cases, "AddN": merge_cases("AddN"), "Concat": merge_cases("Concat"),
    "Abs": _unary(_away),
    "ChannelShuffle": lambda rng: [({"groups": g}, {"x": rng.standard_normal((_n(rng), c, 2, 3))}, True)
                                   for g, c in ((1, 3), (2, 4), (3, 6), (4, 8))],
}

#: bricks checked by their own tests, and why
SPECIAL = {
    "Input": "a data source: no inputs and no weights",
    "Target": "a data source: no inputs and no weights",
    "Constant": "checked in test_constant_and_variable",
    "Variable": "checked in test_constant_and_variable",
    "L2": "checked in test_regularizers", "L1": "checked in test_regularizers",
    "ElasticNet": "checked in test_regularizers", "MaxNorm": "checked in test_regularizers",
}
