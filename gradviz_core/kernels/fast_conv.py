"""Numba convolution kernels for ``fast.py`` (same signatures as ``reference.py``)."""
from __future__ import annotations

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS that np.dot uses inside Numba)
import numba
from numba import prange

from gradviz_core.kernels.jit import _jit

# ---- convolution -------------------------------------------------------------------------------
# Per sample and group, the window matrix is built in cache and multiplied by the filters in one
# BLAS GEMM. The forward pass builds it as rows (Ho·Wo, F·F·C/G) from a channels-last copy of the
# image, so that each row is F contiguous runs of F·C/G numbers; dW builds it as columns
# (C/G·F·F, Ho·Wo), each a run of the image's rows, and multiplies it by doutᵀ. Those are the
# orientations in which this BLAS (called from Numba) runs fastest: about 47 GFLOP/s on one core
# here, against 25 for their transposes. Copies go through views, so that their indices are
# known to be non-negative and the loops vectorize (a negative index check per element kept
# them scalar, 4× slower).
# Runs of samples go to threads (prange); BLAS itself is single-threaded (see kernels.use), so
# the two never fight over the cores. dW sums per-run partials in a fixed order, and the number
# of runs is the machine's core count, not the threads a call gets, so results do not depend on
# scheduling or on how many threads run them (kernels.ThreadChooser changes that count).
# Arrays are shaped so that every operand BLAS gets is contiguous (Numba copies slices it
# cannot prove contiguous). Padding happens per sample, into each thread's buffers, whose
# zero border is written once: no padded copy of the batch.

_HWC = 8  # channels per group from which windows are built from a channels-last copy


def _threads(n: int) -> int:
    """How many runs of samples to split a batch of n into where each sample's result is
    written apart (the forward pass, dX): one per core of the machine."""
    return max(1, min(n, numba.config.NUMBA_NUM_THREADS))


#: the runs of samples whose dW partial sums are added: a fixed number, not the machine's cores,
#: so that dW is the same bits on every machine and with any number of threads (the threads
#: take the runs in turn)
DW_RUNS = 8


def _dw_runs(n: int) -> int:
    return max(1, min(n, DW_RUNS))


@_jit()
def _channels_last(xs, c0, c1, P, out):
    """xs (C, H, W), channels c0 … c1 − 1 -> the inside of out (H + 2P, W + 2P, c1 − c0), whose
    border of P stays as it is (zeros: buffers are zeroed once and reused for every sample)."""
    for h in range(xs.shape[1]):
        line = out[P + h]
        for w in range(xs.shape[2]):
            px = line[P + w]
            for c in range(c1 - c0):
                px[c] = xs[c0 + c, h, w]


@_jit()
def _inside(xs, c0, c1, P, out):
    """xs (C, H, W), channels c0 … c1 − 1 -> the inside of out (c1 − c0, H + 2P, W + 2P), as above."""
    H, W = xs.shape[1], xs.shape[2]
    for c in range(c1 - c0):
        for h in range(H):
            src, dst = xs[c0 + c, h], out[c, P + h, P:P + W]
            for q in range(W):
                dst[q] = src[q]


@_jit()
def _im2row(xh, F, S, Ho, Wo, rows):
    """xh (Hp, Wp, Cg) -> rows (Ho·Wo, F·F·Cg): row h·Wo + q is the window at (h, q), ordered
    (i, j, c). With stride 1 a window's line i is one run of F·Cg numbers of xh."""
    Hp, Wp, Cg = xh.shape
    FC = F * Cg
    xf = xh.reshape(Hp * Wp * Cg)
    for h in range(Ho):
        for q in range(Wo):
            row = rows[h * Wo + q]
            for i in range(F):
                if S == 1:
                    s0 = ((h + i) * Wp + q) * Cg
                    src, dst = xf[s0:s0 + FC], row[i * FC:(i + 1) * FC]
                    for m in range(FC):
                        dst[m] = src[m]
                else:
                    for j in range(F):
                        s0 = ((h * S + i) * Wp + q * S + j) * Cg
                        src, dst = xf[s0:s0 + Cg], row[(i * F + j) * Cg:(i * F + j + 1) * Cg]
                        for m in range(Cg):
                            dst[m] = src[m]


@_jit()
def _im2row_cij(xs, c0, c1, F, S, Ho, Wo, rows):
    """xs (C, Hp, Wp) -> rows (Ho·Wo, (c1 − c0)·F·F), ordered (c, i, j): for few channels,
    whose runs in channels-last order would be too short to pay. The common stride-1 3×3 and
    5×5 cases are unrolled: with F known only at run time, the three-step inner loop costs
    more than the copy it does."""
    for h in range(Ho):
        for q in range(Wo):
            row = rows[h * Wo + q]
            r = 0
            for c in range(c0, c1):
                for i in range(F):
                    src = xs[c, h * S + i]
                    if S == 1 and F == 3:
                        row[r], row[r + 1], row[r + 2] = src[q], src[q + 1], src[q + 2]
                        r += 3
                    elif S == 1 and F == 5:
                        row[r], row[r + 1], row[r + 2] = src[q], src[q + 1], src[q + 2]
                        row[r + 3], row[r + 4] = src[q + 3], src[q + 4]
                        r += 5
                    else:
                        for j in range(F):
                            row[r] = src[q * S + j]
                            r += 1


@_jit()
def _im2col(xs, c0, c1, F, S, Ho, Wo, cols):
    """xs (C, Hp, Wp) -> cols ((c1 − c0)·F·F, Ho·Wo): row (c·F + i)·F + j holds what filter tap
    (i, j) of channel c sees at every output position."""
    r = 0
    for c in range(c0, c1):
        for i in range(F):
            for j in range(F):
                col = cols[r]
                for h in range(Ho):
                    line, dst = xs[c, h * S + i], col[h * Wo:(h + 1) * Wo]
                    if S == 1:
                        src = line[j:j + Wo]
                        for q in range(Wo):
                            dst[q] = src[q]
                    else:
                        for q in range(Wo):
                            dst[q] = line[j + q * S]
                r += 1


@_jit()
def _row2im(rows, c0, c1, F, S, Ho, Wo, dxs):
    """The adjoint of _im2row: add each window back where it was read from (into dxs)."""
    for h in range(Ho):
        for q in range(Wo):
            row = rows[h * Wo + q]
            r = 0
            for c in range(c0, c1):
                for i in range(F):
                    dst = dxs[c, h * S + i]
                    for j in range(F):
                        dst[q * S + j] += row[r]
                        r += 1


@_jit(parallel=True)
def _conv_fwd(x, P, w2t, b, F, S, out, T, hwc):
    """x (N, C, H, W) padded by P here, w2t (G, F·F·C/G, K/G) in (i, j, c) order if hwc else
    (c, i, j), b (K,) -> out (N, G, K/G, Ho·Wo)"""
    N, G, Kg, L = out.shape
    R = w2t.shape[1]
    Cg = R // (F * F)
    Hp, Wp = x.shape[2] + 2 * P, x.shape[3] + 2 * P
    Ho, Wo = (Hp - F) // S + 1, (Wp - F) // S + 1
    per = (N + T - 1) // T
    for t in prange(T):
        xh = np.zeros((Hp, Wp, Cg), dtype=x.dtype)
        xs = np.zeros((Cg, Hp, Wp), dtype=x.dtype)
        rows = np.empty((L, R), dtype=x.dtype)
        o = np.empty((L, Kg), dtype=x.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            for g in range(G):
                if hwc:
                    _channels_last(x[n], g * Cg, (g + 1) * Cg, P, xh)
                    _im2row(xh, F, S, Ho, Wo, rows)
                else:
                    _inside(x[n], g * Cg, (g + 1) * Cg, P, xs)
                    _im2row_cij(xs, 0, Cg, F, S, Ho, Wo, rows)
                np.dot(rows, w2t[g], o)
                for k in range(Kg):
                    bk, dst = b[g * Kg + k], out[n, g, k]
                    for p in range(L):
                        dst[p] = o[p, k] + bk


@_jit(parallel=True)
def _conv_dw(x, P, d, F, S, parts):
    """parts[t] = Σ over run t's samples of colsₙ · doutₙᵀ, per group: dWᵀ. x (N, C, H, W)
    padded by P here, d (N, G, K/G, Ho·Wo), parts (T, G, C/G·F·F, K/G)."""
    N, G, Kg, L = d.shape
    T, R = parts.shape[0], parts.shape[2]
    Cg = R // (F * F)
    Hp, Wp = x.shape[2] + 2 * P, x.shape[3] + 2 * P
    Ho, Wo = (Hp - F) // S + 1, (Wp - F) // S + 1
    per = (N + T - 1) // T
    for t in prange(T):
        xs = np.zeros((Cg, Hp, Wp), dtype=x.dtype)
        cols = np.empty((R, L), dtype=x.dtype)
        prod = np.empty((R, Kg), dtype=x.dtype)
        acc = np.zeros((G, R, Kg), dtype=x.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            for g in range(G):
                _inside(x[n], g * Cg, (g + 1) * Cg, P, xs)
                _im2col(xs, 0, Cg, F, S, Ho, Wo, cols)
                np.dot(cols, d[n, g].T, prod)
                acc[g] += prod
        parts[t] = acc


@_jit(parallel=True)
def _conv_dx_rows(d, w2, F, S, dxp, T):
    """Any stride: dxp (N, C, Hp, Wp), zeroed, += row2im(doutᵀ · W) per sample and group.
    d (N, G, K/G, Ho·Wo), w2 (G, K/G, C/G·F·F)."""
    N, G, Kg, L = d.shape
    R = w2.shape[2]
    Cg = R // (F * F)
    Ho, Wo = (dxp.shape[2] - F) // S + 1, (dxp.shape[3] - F) // S + 1
    per = (N + T - 1) // T
    for t in prange(T):
        rows = np.empty((L, R), dtype=d.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            for g in range(G):
                np.dot(np.ascontiguousarray(d[n, g].T), w2[g], rows)
                _row2im(rows, g * Cg, (g + 1) * Cg, F, S, Ho, Wo, dxp[n])


def _conv(x, pad, w, b, stride, groups):
    """x (N, C, H, W) padded by pad, w (K, C/G, F, F) -> (N, K, Ho, Wo)"""
    n, _, h, wd = x.shape
    hp, wp = h + 2 * pad, wd + 2 * pad
    k, cg, f, _ = w.shape
    kg = k // groups
    dtype = np.result_type(x, w)
    ho, wo = (hp - f) // stride + 1, (wp - f) // stride + 1
    out = np.empty((n, groups, kg, ho * wo), dtype=dtype)
    # (K, C/G, F, F) -> (G, F·F·C/G, K/G), in the order of the windows' columns
    hwc = cg >= _HWC
    order = (0, 3, 4, 2, 1) if hwc else (0, 2, 3, 4, 1)
    w2t = np.ascontiguousarray(w.reshape(groups, kg, cg, f, f).transpose(order)
                               .reshape(groups, f * f * cg, kg), dtype=dtype)
    bias = (b if b is not None else np.zeros(k)).astype(dtype, copy=False)
    _conv_fwd(np.ascontiguousarray(x, dtype=dtype), pad, w2t, bias, f, stride, out, _threads(n), hwc)
    return out.reshape(n, k, ho, wo)


def conv2d_forward(x, w, b, stride: int, pad: int, groups: int):
    """x (N, C, H, W), w (K, C/G, F, F), b (K,) or None -> out (N, K, Ho, Wo)"""
    return _conv(x, pad, w, b, stride, groups)


def _flipped(w, groups):
    """Weights of the transposed convolution: per group, swap filters and channels and turn
    each filter by 180°. (K, C/G, F, F) -> (C, K/G, F, F)"""
    k, cg, f, _ = w.shape
    kg = k // groups
    wt = w.reshape(groups, kg, cg, f, f).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    return np.ascontiguousarray(wt.reshape(groups * cg, kg, f, f))


def conv2d_backward(dout, x, w, stride: int, pad: int, groups: int, with_bias: bool = True,
                    need_dx: bool = True):
    """dout (N, K, Ho, Wo) -> dx (N, C, H, W) or None, dw (K, C/G, F, F), db (K,) or None.

    For stride 1, dx is the forward convolution of dout, padded by F − 1 − pad, with the
    flipped weights (which gives the unpadded input's gradient directly).
    """
    n, c, h, wd = x.shape
    k, cg, f, _ = w.shape
    kg = k // groups
    dout = np.ascontiguousarray(dout)
    d = dout.reshape(n, groups, kg, -1)
    parts = np.empty((_dw_runs(n), groups, cg * f * f, kg), dtype=dout.dtype)
    _conv_dw(np.ascontiguousarray(x, dtype=dout.dtype), pad, d, f, stride, parts)
    dw = parts.sum(axis=0).transpose(0, 2, 1).reshape(w.shape)  # the partials added in a fixed order
    dw = np.ascontiguousarray(dw, dtype=w.dtype)
    db = dout.sum(axis=(0, 2, 3)) if with_bias else None
    if not need_dx:
        return None, dw, db
    if stride == 1 and pad <= f - 1:
        return _conv(dout, f - 1 - pad, _flipped(w, groups), None, 1, groups), dw, db
    if stride == 1:  # a border wider than the filter: the padded input's gradient, cut
        dxp = _conv(dout, f - 1, _flipped(w, groups), None, 1, groups)
    else:
        dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=dout.dtype)
        w2 = np.ascontiguousarray(w.reshape(groups, kg, cg * f * f), dtype=dout.dtype)
        _conv_dx_rows(d, w2, f, stride, dxp, _threads(n))
    return np.ascontiguousarray(dxp[:, :, pad:pad + h, pad:pad + wd]), dw, db
