"""Numba convolution kernels for ``fast.py`` (same signatures as ``reference.py``): the entry
points, and window matrices with BLAS GEMMs wherever the direct convolution (``direct_conv``)
does not apply."""
from __future__ import annotations

import numba
import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS that np.dot uses inside Numba)
from numba import prange

from gradviz_core.kernels import direct_conv as direct
from gradviz_core.kernels.conv_common import _act, _act_back, _inside, _unwide
from gradviz_core.kernels.jit import _jit

# ---- convolution -------------------------------------------------------------------------------
# Per sample and group, a window matrix is built in cache and multiplied by the filters in BLAS
# GEMMs, a block of output rows at a time, so that the block (at most 192 KiB, ``BLOCK_BYTES``)
# and the GEMM's result stay in the core's cache: 135 GFLOP/s on one core here for 256 × 144 by
# 144 × 16, against 87 for a 32 × 32 image's 1024 rows at once.
# Stride 1 (the common case, and dx of any stride-1 convolution), where it wastes at most a
# quarter (``_wide``): the matrix is built "wide" from the padded image (C/G, Hp, Wp): its row
# (c, i, j) is one run of the image from (c, h0 + i, j), as long as the block's rows times Wp,
# so each row is a plain copy. That counts Wp − Wo positions per output row that do not exist
# (windows that run over the right border into the next row); the forward pass drops their
# results, and dW multiplies them by zero. The product W (K/G, C/G·F·F) · cols lands in the
# output's own order (N, K, H, W).
# Small images and other strides: the forward pass builds each sample's matrix as rows
# (positions, F·F·C/G), from a channels-last copy of the image when a group has enough
# channels (each row F runs of F·C/G numbers); dW builds columns of the positions that exist.
# Copies go through views, so that their indices are known to be non-negative and the loops
# vectorize (a negative index check per element kept them scalar, 4× slower).
# Runs of samples go to threads (prange); BLAS itself is single-threaded (see kernels.use), so
# the two never fight over the cores. dW sums partials over a fixed number of runs of samples
# in a fixed order, so results do not depend on scheduling, on how many threads run them
# (kernels.ThreadChooser changes that count) or on the machine's cores.
# Arrays are shaped so that every operand BLAS gets is contiguous (Numba copies slices it
# cannot prove contiguous). Padding happens per sample, into each thread's buffers, whose
# zero border is written once: no padded copy of the batch.
# A ReLU (or leaky ReLU) that follows a convolution can run inside it (``act``): the forward
# pass writes max(0, ·) as it adds the bias, and the backward pass takes the gradient through
# it as it builds doutᵀ for dW; the bits are those of the separate kernels.


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


_HWC = 8  # channels per group from which rows of windows are built from a channels-last copy

#: the size of a block of the window matrix: it and the GEMM's result stay in the core's cache
#: (measured in training steps here: 128 KiB 15.8 ms a cifar-b64 step, 192 KiB 13.8, 256 KiB 14.3)
BLOCK_BYTES = 192 * 1024

#: dW's window matrix with at most this many rows (few channels) is multiplied by dout's own
#: transpose in one block, when it fits: copying doutᵀ would cost as much as the product (conv1
#: of the cifar net: 0.56 ms against 0.85 here); with more rows, a copy per block is faster
#: (LeNet's conv2: 0.28 ms against 0.40). A rule of the shape, not a time measured per run, so
#: that a seed trains to the same bits on every run.
FEW_ROWS = 64


def _wide(stride: int, wo: int, wp: int) -> bool:
    """Whether to build the window matrix wide: at stride 1, when the positions that do not
    exist are at most a quarter (a 32-wide image padded to 34, not LeNet's 8 of 12, where the
    wasted third made the forward pass 1.35× slower than row-by-row copies)."""
    return stride == 1 and 4 * wo >= 3 * wp


#: the activations a convolution can apply to its output inside its kernels
ACTS = ("relu", "leaky_relu")


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
def _im2col(xf, Cg, Hp, Wp, F, S, h0, h1, Wo, wide, cols):
    """The padded image xf (Cg·Hp·Wp numbers and F spare) -> cols (Cg·F·F, positions): row
    (c·F + i)·F + j holds what filter tap (i, j) of channel c sees at each position of output
    rows h0 … h1 − 1. ``wide`` (stride 1 only): Wp positions per output row, each row of cols
    one run of xf; else Wo positions per output row."""
    r = 0
    for c in range(Cg):
        for i in range(F):
            for j in range(F):
                col = cols[r]
                if wide:
                    m = (h1 - h0) * Wp
                    s0 = (c * Hp + h0 + i) * Wp + j
                    src = xf[s0:s0 + m]
                    for p in range(m):
                        col[p] = src[p]
                else:
                    for h in range(h0, h1):
                        s0 = (c * Hp + h * S + i) * Wp + j
                        dst = col[(h - h0) * Wo:(h - h0 + 1) * Wo]
                        if S == 1:
                            src = xf[s0:s0 + Wo]
                            for q in range(Wo):
                                dst[q] = src[q]
                        else:
                            for q in range(Wo):
                                dst[q] = xf[s0 + q * S]
                r += 1


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
def _row2im(rows, c0, c1, F, S, Ho, Wo, dxs):
    """Add each window (a row of rows, ordered (c, i, j)) back where it was read from (into dxs)."""
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


def _block(itemsize: int, rows: int, width: int, ho: int) -> int:
    """Output rows per block, for a window matrix of ``rows`` rows and ``width`` positions per
    output row, and ``ho`` output rows in all: blocks of even size (16 rows as 8 and 8, not
    15 and 1)."""
    most = max(1, BLOCK_BYTES // itemsize // max(1, rows * width))
    blocks = -(-ho // most)
    return -(-ho // blocks)


@_jit(parallel=True)
def _conv_fwd_rows(x, P, w2t, b, F, S, out, T, hwc, act, alpha):
    """Small images, and strides above 1: x (N, C, H, W) padded by P here, w2t (G, F·F·C/G, K/G)
    in (i, j, c) order if hwc else (c, i, j), b (K,) -> out (N, G, K/G, Ho·Wo), through the
    activation when ``act``: each sample's windows as rows, in one GEMM."""
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
                    if act:
                        for p in range(L):
                            dst[p] = _act(o[p, k] + bk, alpha)
                    else:
                        for p in range(L):
                            dst[p] = o[p, k] + bk


@_jit(parallel=True)
def _conv_fwd(x, P, w2, b, F, S, out, T, hb, wide, act, alpha):
    """x (N, C, H, W) padded by P here, w2 (G, K/G, C/G·F·F), b (K,) -> out (N, G, K/G, Ho·Wo),
    through the activation when ``act``; hb output rows per block."""
    N, G, Kg, L = out.shape
    R = w2.shape[2]
    Cg = R // (F * F)
    Hp, Wp = x.shape[2] + 2 * P, x.shape[3] + 2 * P
    Ho, Wo = (Hp - F) // S + 1, (Wp - F) // S + 1
    Wb = Wp if wide else Wo  # positions per output row in a block
    per = (N + T - 1) // T
    for t in prange(T):
        xf = np.zeros(Cg * Hp * Wp + F, dtype=x.dtype)
        xs = xf[:Cg * Hp * Wp].reshape((Cg, Hp, Wp))
        col_buf = np.empty(R * hb * Wb, dtype=x.dtype)
        o_buf = np.empty(Kg * hb * Wb, dtype=x.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            for g in range(G):
                _inside(x[n], g * Cg, (g + 1) * Cg, P, xs)
                for h0 in range(0, Ho, hb):
                    h1 = min(Ho, h0 + hb)
                    m = (h1 - h0) * Wb
                    cols, o = col_buf[:R * m].reshape((R, m)), o_buf[:Kg * m].reshape((Kg, m))
                    _im2col(xf, Cg, Hp, Wp, F, S, h0, h1, Wo, wide, cols)
                    np.dot(w2[g], cols, o)
                    _unwide(o_buf[:Kg * m], m, Wb, h1 - h0, Wo, out[n, g, :, h0 * Wo:h1 * Wo], b, g * Kg, act, alpha)


@_jit(parallel=True)
def _conv_dw(x, P, d, F, S, parts, hb, one, wide, bias, act, a, alpha, da):
    """parts[t] = Σ over run t's samples of colsₙ · doutₙᵀ, per group: dWᵀ, and with ``bias`` a
    last row Σ doutₙ, db (the window matrix gets a row of ones). x (N, C, H, W) padded by P
    here, d (N, G, K/G, Ho·Wo), parts (T, G, C/G·F·F + bias, K/G). With ``act``, d is the
    gradient at the output a of the activation fused into the forward pass: it is taken through
    the activation first, into da (for dx). hb output rows per block; with ``one`` (one block
    of every output row, not wide) doutᵀ is dout's own transpose, else a copy per block, zero
    where the wide matrix has positions that do not exist."""
    N, G, Kg, L = d.shape
    T, R = parts.shape[0], parts.shape[2]
    Cg = (R - bias) // (F * F)
    Hp, Wp = x.shape[2] + 2 * P, x.shape[3] + 2 * P
    Ho, Wo = (Hp - F) // S + 1, (Wp - F) // S + 1
    Wb = Wp if wide else Wo
    per = (N + T - 1) // T
    for t in prange(T):
        xf = np.zeros(Cg * Hp * Wp + F, dtype=x.dtype)
        xs = xf[:Cg * Hp * Wp].reshape((Cg, Hp, Wp))
        col_buf = np.empty(R * hb * Wb, dtype=x.dtype)
        dt_buf = np.zeros(hb * Wb * Kg, dtype=x.dtype)  # the positions that do not exist stay 0
        prod = np.empty((R, Kg), dtype=x.dtype)
        acc = np.zeros((G, R, Kg), dtype=x.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            for g in range(G):
                _inside(x[n], g * Cg, (g + 1) * Cg, P, xs)
                if one and act:
                    _act_back(d[n, g].reshape(-1), a[n, g].reshape(-1), alpha, da[n, g].reshape(-1))
                for h0 in range(0, Ho, hb):
                    h1 = min(Ho, h0 + hb)
                    m = (h1 - h0) * Wb
                    cols = col_buf[:R * m].reshape((R, m))
                    _im2col(xf, Cg, Hp, Wp, F, S, h0, h1, Wo, wide, cols)
                    if bias:
                        cols[R - 1] = 1.0
                    if one:
                        np.dot(cols, (da[n, g] if act else d[n, g]).T, prod)
                    else:
                        dt = dt_buf[:m * Kg].reshape((m, Kg))
                        for h in range(h0, h1):  # row by row: the block stays in the L1 cache
                            for k in range(Kg):
                                line = d[n, g, k, h * Wo:(h + 1) * Wo]
                                if act:
                                    took = da[n, g, k, h * Wo:(h + 1) * Wo]
                                    _act_back(line, a[n, g, k, h * Wo:(h + 1) * Wo], alpha, took)
                                    for q in range(Wo):
                                        dt[(h - h0) * Wb + q, k] = took[q]
                                else:
                                    for q in range(Wo):
                                        dt[(h - h0) * Wb + q, k] = line[q]
                        np.dot(cols, dt, prod)
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


def _conv(x, pad, w, b, stride, groups, act=None, alpha=0.0):
    """x (N, C, H, W) padded by pad, w (K, C/G, F, F) -> (N, K, Ho, Wo)"""
    n, _, h, wd = x.shape
    hp, wp = h + 2 * pad, wd + 2 * pad
    k, cg, f, _ = w.shape
    kg = k // groups
    dtype = np.result_type(x, w)
    ho, wo = (hp - f) // stride + 1, (wp - f) // stride + 1
    out = np.empty((n, groups, kg, ho * wo), dtype=dtype)
    bias = (b if b is not None else np.zeros(k)).astype(dtype, copy=False)
    x = np.ascontiguousarray(x, dtype=dtype)
    if direct._direct(dtype, stride, f, kg) and ho > 0 and wo > 0:
        kb, wd = direct._direct_weights(w, groups, dtype)
        direct._conv_fwd_direct(x, pad, wd, bias, f, out, _threads(n), kb, direct._width(), act is not None,
                                dtype.type(alpha))
    elif _wide(stride, wo, wp):
        w2 = np.ascontiguousarray(w.reshape(groups, kg, cg * f * f), dtype=dtype)
        hb = _block(dtype.itemsize, cg * f * f, wp, ho)
        _conv_fwd(x, pad, w2, bias, f, stride, out, _threads(n), hb, True, act is not None, dtype.type(alpha))
    else:
        # (K, C/G, F, F) -> (G, F·F·C/G, K/G), in the order of the windows' columns
        hwc = cg >= _HWC
        order = (0, 3, 4, 2, 1) if hwc else (0, 2, 3, 4, 1)
        w2t = np.ascontiguousarray(w.reshape(groups, kg, cg, f, f).transpose(order)
                                   .reshape(groups, f * f * cg, kg), dtype=dtype)
        _conv_fwd_rows(x, pad, w2t, bias, f, stride, out, _threads(n), hwc, act is not None, dtype.type(alpha))
    return out.reshape(n, k, ho, wo)


def _check_act(act):
    if act is not None and act not in ACTS:
        raise ValueError(f"a convolution cannot fuse the activation {act!r}: only {', '.join(ACTS)}")


def conv2d_forward(x, w, b, stride: int, pad: int, groups: int, act: str | None = None,
                   alpha: float = 0.0):
    """x (N, C, H, W), w (K, C/G, F, F), b (K,) or None -> out (N, K, Ho, Wo); with ``act``
    ("relu", or "leaky_relu" of slope alpha) that activation of out, in the same pass."""
    _check_act(act)
    return _conv(x, pad, w, b, stride, groups, act, alpha)


def _flipped(w, groups):
    """Weights of the transposed convolution: per group, swap filters and channels and turn
    each filter by 180°. (K, C/G, F, F) -> (C, K/G, F, F)"""
    k, cg, f, _ = w.shape
    kg = k // groups
    wt = w.reshape(groups, kg, cg, f, f).transpose(0, 2, 1, 3, 4)[..., ::-1, ::-1]
    return np.ascontiguousarray(wt.reshape(groups * cg, kg, f, f))


def conv2d_backward(dout, x, w, stride: int, pad: int, groups: int, with_bias: bool = True,
                    need_dx: bool = True, act_out=None, alpha: float = 0.0):
    """dout (N, K, Ho, Wo) -> dx (N, C, H, W) or None, dw (K, C/G, F, F), db (K,) or None.

    With ``act_out``, the output of a forward pass that fused its activation (slope alpha),
    dout is the gradient at the activation's output, taken through it here.
    For stride 1, dx is the forward convolution of dout, padded by F − 1 − pad, with the
    flipped weights (which gives the unpadded input's gradient directly).
    """
    n, c, h, wd = x.shape
    k, cg, f, _ = w.shape
    kg = k // groups
    dout = np.ascontiguousarray(dout)
    d = dout.reshape(n, groups, kg, -1)
    fused = act_out is not None
    a = np.ascontiguousarray(act_out, dtype=dout.dtype).reshape(d.shape) if fused else d[:0]
    wp, wo = wd + 2 * pad, (wd + 2 * pad - f) // stride + 1
    r = cg * f * f
    parts = np.empty((_dw_runs(n), groups, r + with_bias, kg), dtype=dout.dtype)
    ho = (h + 2 * pad - f) // stride + 1
    x = np.ascontiguousarray(x, dtype=dout.dtype)
    if ho <= 0 or wo <= 0:  # an empty output: nothing flows back
        return (np.zeros(x.shape, dout.dtype) if need_dx else None, np.zeros(w.shape, w.dtype),
                np.zeros(k, dout.dtype) if with_bias else None)
    on_direct = direct._direct(dout.dtype, stride, f, kg)
    # dX in the same pass: the transposed convolution's output channels (C/G) suit the direct kernel
    together = (direct.TOGETHER and on_direct and need_dx and pad <= f - 1
                and direct._direct(dout.dtype, 1, f, cg))
    # the gradient taken through the activation, for dX apart (the window matrices' dW also
    # builds its doutᵀ from it); d[:0]: none
    da = np.empty_like(d) if fused and (not on_direct or (need_dx and not together)) else d[:0]
    if together:
        kbx, wdx = direct._direct_weights(_flipped(w, groups), groups, dout.dtype)
        dx = np.empty((n, groups, cg, h * wd), dtype=dout.dtype)
    else:
        kbx, wdx, dx = 8, d.reshape(-1)[:0], d[:0]
    if on_direct:
        kv = 16 if kg % 16 == 0 and direct._width() == 16 else 8
        rb = direct._dw_rows(f, direct._width(), cg * f)
        direct._conv_bwd_direct(x, pad, d, f, parts, kv, rb, with_bias, fused, a, dout.dtype.type(alpha), da,
                                wdx, kbx, direct._width(), dx)
    else:
        one = r + 1 <= FEW_ROWS and _block(dout.dtype.itemsize, r + 1, wo, ho) >= ho
        wide = not one and _wide(stride, wo, wp)
        hb = ho if one else _block(dout.dtype.itemsize, r + 1, wp if wide else wo, ho)
        _conv_dw(x, pad, d, f, stride, parts, hb, one, wide, with_bias, fused, a, dout.dtype.type(alpha), da)
    if fused and need_dx and not together:
        d, dout = da, da.reshape(dout.shape)
    total = parts.sum(axis=0)  # the partials added in a fixed order
    dw = np.ascontiguousarray(total[:, :r].transpose(0, 2, 1).reshape(w.shape), dtype=w.dtype)
    db = total[:, r].reshape(k) if with_bias else None
    if not need_dx:
        return None, dw, db
    if together:
        return dx.reshape(x.shape), dw, db
    if stride == 1 and pad <= f - 1:
        return _conv(dout, f - 1 - pad, _flipped(w, groups), None, 1, groups), dw, db
    if stride == 1:  # a border wider than the filter: the padded input's gradient, cut
        dxp = _conv(dout, f - 1, _flipped(w, groups), None, 1, groups)
    else:
        dxp = np.zeros((n, c, h + 2 * pad, wd + 2 * pad), dtype=dout.dtype)
        w2 = np.ascontiguousarray(w.reshape(groups, kg, cg * f * f), dtype=dout.dtype)
        _conv_dx_rows(d, w2, f, stride, dxp, _threads(n))
    return np.ascontiguousarray(dxp[:, :, pad:pad + h, pad:pad + wd]), dw, db
