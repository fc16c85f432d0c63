"""Readable NumPy reference kernels, in forward/backward pairs with the shapes in the docstring.

The fast (Numba) kernels in ``fast.py`` keep exactly these signatures, and the tests
check that both agree. These work in any float dtype.
"""
from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


# ---- convolution ---------------------------------------------------------------------
def _pair(v) -> tuple[int, int]:
    """A window's size or stride: F (square) or (F_h, F_w)."""
    return (v, v) if np.isscalar(v) else (int(v[0]), int(v[1]))


def _windows(xp: np.ndarray, size, stride) -> np.ndarray:
    """(N, C, Hp, Wp) -> (N, C, Ho, Wo, F_h, F_w) view of every window the filter visits (size and
    stride: one number for both axes, or a (height, width) pair)."""
    (fh, fw), (sh, sw) = _pair(size), _pair(stride)
    return sliding_window_view(xp, (fh, fw), axis=(2, 3))[:, :, ::sh, ::sw]


def _pad(x: np.ndarray, pad: int, value: float = 0.0) -> np.ndarray:
    if pad == 0:
        return x
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)), constant_values=value)


def _scatter_windows(dcols: np.ndarray, shape: tuple, size: int, stride: int) -> np.ndarray:
    """Adjoint of ``_windows``: add each window's gradient back where it came from.

    dcols (N, C, Ho, Wo, F, F) -> (N, C, Hp, Wp)
    """
    out = np.zeros(shape, dtype=dcols.dtype)
    ho, wo = dcols.shape[2], dcols.shape[3]
    (fh, fw), (sh, sw) = _pair(size), _pair(stride)
    for i in range(fh):
        for j in range(fw):
            out[:, :, i:i + sh * (ho - 1) + 1:sh, j:j + sw * (wo - 1) + 1:sw] += dcols[:, :, :, :, i, j]
    return out


def conv2d_forward(x, w, b, stride: int, pad: int, groups: int, act: str | None = None,
                   alpha: float = 0.0):
    """out[n, k] = Σ_c Σ_ij w[k, c, i, j] · xpad[n, c, S·h + i, S·w + j] + b[k]

    x (N, C, H, W), w (K, C/G, F, F), b (K,) or None -> out (N, K, Ho, Wo)
    with Ho = (H − F + 2P)/S + 1. Channels and filters are split into G groups;
    group g's filters see only group g's channels. With ``act`` ("relu", "leaky_relu" of
    slope alpha), that activation of out.
    """
    out = _conv2d(x, w, b, stride, pad, groups)
    return out if act is None else relu_forward(out, alpha)


def _conv2d(x, w, b, stride, pad, groups):
    k, cg, fh, fw = w.shape
    cols = _windows(_pad(x, pad), (fh, fw), stride)
    n, _, ho, wo = cols.shape[:4]
    kg = k // groups
    out = np.empty((n, k, ho, wo), dtype=np.result_type(x, w))
    for g in range(groups):
        out[:, g * kg:(g + 1) * kg] = np.einsum(
            "nchwij,kcij->nkhw", cols[:, g * cg:(g + 1) * cg], w[g * kg:(g + 1) * kg], optimize=True)
    if b is not None:
        out += b[None, :, None, None]
    return out


def conv2d_backward(dout, x, w, stride: int, pad: int, groups: int, with_bias: bool = True,
                    need_dx: bool = True, act_out=None, alpha: float = 0.0):
    """dout (N, K, Ho, Wo) -> dx (N, C, H, W) or None, dw (K, C/G, F, F), db (K,) or None.
    With ``act_out`` (the output of a forward pass with its activation), dout is the gradient
    at the activation's output: taken through it first (act_out has its input's sign)."""
    if act_out is not None:
        dout = relu_backward(dout, act_out, alpha)
    k, cg, fh, fw = w.shape
    xp = _pad(x, pad)
    cols = _windows(xp, (fh, fw), stride)
    kg = k // groups
    dw = np.empty_like(w)
    dcols = np.empty(cols.shape, dtype=dout.dtype)
    for g in range(groups):
        ks, cs = slice(g * kg, (g + 1) * kg), slice(g * cg, (g + 1) * cg)
        dw[ks] = np.einsum("nkhw,nchwij->kcij", dout[:, ks], cols[:, cs], optimize=True)
        if need_dx:
            dcols[:, cs] = np.einsum("nkhw,kcij->nchwij", dout[:, ks], w[ks], optimize=True)
    db = dout.sum(axis=(0, 2, 3)) if with_bias else None
    if not need_dx:
        return None, dw, db
    dxp = _scatter_windows(dcols, xp.shape, (fh, fw), stride)
    h, wd = x.shape[2], x.shape[3]
    return np.ascontiguousarray(dxp[:, :, pad:pad + h, pad:pad + wd]), dw, db


# ---- pooling -------------------------------------------------------------------------
def maxpool_forward(x, size: int, stride: int, pad: int):
    """out[n, c, h, w] = max of the window; also returns the argmax inside each window.

    x (N, C, H, W) -> out (N, C, Ho, Wo), arg (N, C, Ho, Wo) with values in [0, F·F).
    Padding counts as −∞, so it is never chosen. Ties go to the first element.
    """
    cols = _windows(_pad(x, pad, -np.inf), size, stride)
    flat = cols.reshape(cols.shape[:4] + (cols.shape[4] * cols.shape[5],))
    arg = flat.argmax(axis=-1)
    out = np.take_along_axis(flat, arg[..., None], axis=-1)[..., 0]
    return out, arg


def maxpool_backward(dout, arg, x_shape, size: int, stride: int, pad: int):
    """The gradient goes to the element that won each window. -> dx (N, C, H, W)"""
    n, c, h, w = x_shape
    fh, fw = _pair(size)
    dcols = np.zeros(arg.shape + (fh * fw,), dtype=dout.dtype)
    np.put_along_axis(dcols, arg[..., None], dout[..., None], axis=-1)
    dcols = dcols.reshape(arg.shape + (fh, fw))
    dxp = _scatter_windows(dcols, (n, c, h + 2 * pad, w + 2 * pad), size, stride)
    return np.ascontiguousarray(dxp[:, :, pad:pad + h, pad:pad + w])


def avgpool_forward(x, size: int, stride: int, pad: int):
    """out = mean of each F×F window (padding counts as zeros). x (N,C,H,W) -> (N,C,Ho,Wo)"""
    return _windows(_pad(x, pad), size, stride).mean(axis=(4, 5))


def avgpool_backward(dout, x_shape, size: int, stride: int, pad: int):
    """Each element of a window gets dout / F². -> dx (N, C, H, W)"""
    n, c, h, w = x_shape
    fh, fw = _pair(size)
    dcols = np.broadcast_to((dout / (fh * fw))[..., None, None], dout.shape + (fh, fw))
    dxp = _scatter_windows(np.ascontiguousarray(dcols), (n, c, h + 2 * pad, w + 2 * pad), size, stride)
    return np.ascontiguousarray(dxp[:, :, pad:pad + h, pad:pad + w])


# ---- batch normalization ------------------------------------------------------------------
def batchnorm_forward(x, gamma, beta, eps: float):
    """Normalize each channel with the batch's statistics, then scale and shift.

    x (N, C, L): C channels (features), L positions per channel (H·W for images, 1 for
    vectors). Statistics run over N and L.
    -> out (N, C, L), xhat (N, C, L), mean (C,), var (C,), inv_std (C,)
    xhat = (x − μ) / √(σ² + ε);  out = γ · xhat + β
    """
    mean = x.mean(axis=(0, 2))
    var = x.var(axis=(0, 2))
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean[:, None]) * inv_std[:, None]
    return gamma[:, None] * xhat + beta[:, None], xhat, mean, var, inv_std


def batchnorm_backward(dout, xhat, gamma, inv_std):
    """dout (N, C, L) -> dx (N, C, L), dgamma (C,), dbeta (C,)

    dx = (1/m) · inv_std · (m·dxhat − Σ dxhat − xhat · Σ(dxhat · xhat)),  dxhat = dout · γ,
    with m = N·L values per channel.
    """
    m = dout.shape[0] * dout.shape[2]
    dbeta = dout.sum(axis=(0, 2))
    dgamma = (dout * xhat).sum(axis=(0, 2))
    dxhat = dout * gamma[:, None]
    dx = (inv_std[:, None] / m) * (m * dxhat - dxhat.sum(axis=(0, 2))[:, None]
                                   - xhat * (dxhat * xhat).sum(axis=(0, 2))[:, None])
    return dx, dgamma, dbeta


# ---- softmax + cross-entropy ---------------------------------------------------------------
def softmax(s):
    """Row-wise softmax, shifted by the row max for stability. s (N, K) -> p (N, K)"""
    e = np.exp(s - s.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def softmax_xent_forward(s, t):
    """L = −(1/N) Σ_n Σ_k t[n, k] · log softmax(s)[n, k]

    s (N, K) scores, t (N, K) target distribution (one-hot rows for class labels)
    -> loss (scalar), p (N, K) the softmax, logp (N, K)
    """
    shifted = s - s.max(axis=-1, keepdims=True)
    logp = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    n = s.shape[0]
    return -(t * logp).sum() / n, np.exp(logp), logp


def softmax_xent_backward(p, t):
    """dL/ds = (p · Σ_k t − t) / N  (= (p − t)/N for one-hot targets). -> ds (N, K)"""
    n = p.shape[0]
    return (p * t.sum(axis=-1, keepdims=True) - t) / n


# ---- fully connected ----------------------------------------------------------------------
def linear_forward(x, w, b):
    """out = x W + b.  x (N, D), w (D, K), b (K,) or None -> out (N, K)"""
    out = x @ w
    if b is not None:
        out += b
    return out


#: the activations a fused MLP forward knows, by code
MLP_ACTS = {"identity": 0, "relu": 1, "leaky_relu": 2, "tanh": 3, "sigmoid": 4}


def mlp_forward(x, ws, bs, acts, alphas):
    """A chain of Linear layers, each followed by an activation (codes: MLP_ACTS), in test mode:
    x (N, D) -> (N, K). ws[i] (D_i, K_i), bs[i] (K_i,), alphas[i] the leaky slope."""
    h = x
    for w, b, a, alpha in zip(ws, bs, acts, alphas):
        h = h @ w + b
        if a == 1:
            h = np.maximum(h, 0)
        elif a == 2:
            h = np.where(h > 0, h, alpha * h)
        elif a == 3:
            h = np.tanh(h)
        elif a == 4:
            with np.errstate(over="ignore"):  # e^(−h) overflows to inf for very negative h: σ = 0
                h = 1 / (1 + np.exp(-h))
    return h.astype(x.dtype, copy=False)


def linear_backward(dout, x, w, with_bias: bool = True, need_dx: bool = True):
    """dout (N, K) -> dx (N, D) = dout Wᵀ or None, dw (D, K) = xᵀ dout, db (K,) = Σₙ dout or None"""
    return (dout @ w.T if need_dx else None), x.T @ dout, (dout.sum(axis=0) if with_bias else None)


# ---- elementwise activations --------------------------------------------------------------
def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)), computed without overflow for large |x|."""
    out = np.empty_like(x)
    pos = x >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-x[pos]))
    ex = np.exp(x[~pos])
    out[~pos] = ex / (1.0 + ex)
    return out


def relu_forward(x, alpha: float = 0.0):
    """max(0, x), or leaky: x for x > 0 and α·x otherwise."""
    if alpha == 0.0:
        return np.maximum(x, 0)
    return np.where(x > 0, x, alpha * x)


def relu_backward(dout, x, alpha: float = 0.0):
    return np.where(x > 0, dout, alpha * dout)
