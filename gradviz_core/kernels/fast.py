"""Numba kernels with exactly the signatures of ``reference.py`` (the tests check they agree).

Parallel loops give each thread its own outputs (convolution over (sample, row) or
(filter, channel), pooling over (sample, channel), batch norm over channels), so there
is no racy accumulation and results are the same on every run with the same threads.
Small arrays take serial kernels: waking threads would cost more than the work.
Fast-math is limited to reassociation and contraction: NaN and inf still propagate,
so the divergence guard still sees them.
"""
from __future__ import annotations

import math

import numpy as np
import scipy.linalg.cython_blas  # noqa: F401  (the BLAS that np.dot uses inside Numba)
from numba import get_num_threads, njit, prange

FM = {"reassoc", "contract", "arcp", "nsz"}
SMALL = 1 << 15  # elements: below this, serial kernels


def _jit(parallel=False):
    return njit(parallel=parallel, fastmath=FM, cache=True, nogil=True)


# ---- fully connected -------------------------------------------------------------------------
@_jit()
def _add_rows(out, b):
    n, k = out.shape
    for i in range(n):
        for j in range(k):
            out[i, j] += b[j]


@_jit()
def _colsum(a):
    n, k = a.shape
    out = np.zeros(k, dtype=a.dtype)
    for i in range(n):
        for j in range(k):
            out[j] += a[i, j]
    return out


@_jit(parallel=True)
def _linear_chunks(x, w, b, out):
    """Rows in chunks across threads, each chunk one single-threaded GEMM, plus the bias."""
    n = x.shape[0]
    chunk = 2048
    for c in prange((n + chunk - 1) // chunk):
        s, e = c * chunk, min(n, (c + 1) * chunk)
        np.dot(np.ascontiguousarray(x[s:e]), w, out[s:e])
        for i in range(s, e):
            for j in range(w.shape[1]):
                out[i, j] += b[j]


def linear_forward(x, w, b):
    """out = x W + b (the product by BLAS). x (N, D), w (D, K), b (K,) or None -> (N, K)

    Large batches (a decision-boundary grid) are split into row chunks across threads.
    """
    if x.shape[0] >= 8192 and x.dtype == w.dtype:
        out = np.empty((x.shape[0], w.shape[1]), dtype=x.dtype)
        _linear_chunks(np.ascontiguousarray(x), np.ascontiguousarray(w),
                       b if b is not None else np.zeros(w.shape[1], dtype=w.dtype), out)
        return out
    out = x @ w
    if b is not None:
        _add_rows(out, b)
    return out


def linear_backward(dout, x, w, with_bias: bool = True, need_dx: bool = True):
    """dout (N, K) -> dx (N, D) or None, dw (D, K), db (K,) or None"""
    db = (_colsum(dout) if dout.size < SMALL else dout.sum(axis=0)) if with_bias else None
    return (dout @ w.T if need_dx else None), x.T @ dout, db


# ---- elementwise ----------------------------------------------------------------------------
def _elementwise(body):
    """A serial and a parallel kernel from one loop body; the size picks one."""
    serial, parallel = _jit()(body), _jit(parallel=True)(body)

    def run(x, *rest):
        flat = np.ascontiguousarray(x).reshape(-1)
        out = np.empty_like(flat)
        (serial if flat.size < SMALL else parallel)(out, flat, *rest)
        return out.reshape(x.shape)
    return run


def _sigmoid_body(out, x):
    for i in prange(x.size):
        v = x[i]
        if v >= 0:
            out[i] = 1.0 / (1.0 + math.exp(-v))
        else:
            e = math.exp(v)
            out[i] = e / (1.0 + e)


def _relu_body(out, x, alpha):
    for i in prange(x.size):
        v = x[i]
        # "not v <= 0" keeps NaN (as np.maximum does), so the divergence guard sees it
        out[i] = v if not v <= 0 else (alpha * v if alpha != 0 else 0.0)  # 0·(−∞) would be NaN


def _relu_back_body(out, x, d, alpha):
    for i in prange(x.size):
        out[i] = d[i] if x[i] > 0 else (alpha * d[i] if alpha != 0 else 0.0)


_sigmoid, _relu, _relu_back = (_elementwise(f) for f in (_sigmoid_body, _relu_body, _relu_back_body))


def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)), without overflow."""
    return _sigmoid(x)


def relu_forward(x, alpha: float = 0.0):
    """max(0, x), or leaky: x for x > 0 and α·x otherwise."""
    return _relu(x, x.dtype.type(alpha))


def relu_backward(dout, x, alpha: float = 0.0):
    return _relu_back(x, np.ascontiguousarray(dout, dtype=x.dtype).reshape(-1), x.dtype.type(alpha))


# ---- softmax and cross-entropy -----------------------------------------------------------------
def _softmax_rows_body(s, logp, p):
    n, k = s.shape
    for i in prange(n):
        m = s[i, 0]
        for j in range(1, k):
            if s[i, j] > m:
                m = s[i, j]
        tot = 0.0
        for j in range(k):
            tot += math.exp(s[i, j] - m)
        lse = m + math.log(tot)
        for j in range(k):
            logp[i, j] = s[i, j] - lse
            p[i, j] = math.exp(logp[i, j])


_softmax_rows = (_jit()(_softmax_rows_body), _jit(parallel=True)(_softmax_rows_body))


def _rows2d(s):
    s2 = np.ascontiguousarray(s).reshape(-1, s.shape[-1])
    logp, p = np.empty_like(s2), np.empty_like(s2)
    _softmax_rows[s2.size >= SMALL](s2, logp, p)
    return s2, logp, p


def softmax(s):
    """Row-wise softmax over the last axis, shifted by the row max."""
    _, _, p = _rows2d(s)
    return p.reshape(s.shape)


@_jit()
def _xent_rows(t, logp):
    n, k = t.shape
    out = np.zeros(n, dtype=np.float64)
    for i in range(n):
        acc = 0.0
        for j in range(k):
            acc -= t[i, j] * logp[i, j]
        out[i] = acc
    return out


def softmax_xent_forward(s, t):
    """L = −(1/N) Σ t · log softmax(s).  s, t (N, K) -> loss, p (N, K), logp (N, K)"""
    _, logp, p = _rows2d(s)
    return _xent_rows(t, logp).sum() / s.shape[0], p, logp


@_jit()
def _xent_back(p, t, out):
    n, k = p.shape
    for i in range(n):
        ts = 0.0
        for j in range(k):
            ts += t[i, j]
        for j in range(k):
            out[i, j] = (p[i, j] * ts - t[i, j]) / n


def softmax_xent_backward(p, t):
    """dL/ds = (p · Σ_k t − t) / N -> (N, K)"""
    out = np.empty_like(p)
    _xent_back(p, np.ascontiguousarray(t, dtype=p.dtype), out)
    return out


# ---- convolution -------------------------------------------------------------------------------
# Per sample and group: im2row into a (Ho·Wo, C/G·F·F) matrix that fits in cache, then one
# BLAS GEMM with the filters (that shape runs about twice as fast as its transpose). Runs of
# samples go to threads (prange); BLAS itself is single-threaded (see kernels.use), so the
# two never fight over the cores. dW sums per-thread partials in a fixed order, so results
# do not depend on scheduling. Arrays are shaped so that every operand BLAS gets is
# C-contiguous (Numba copies slices it cannot prove contiguous).
def _pad(x, pad: int):
    """Zeros around each image (np.pad is several times slower for this)."""
    if pad == 0:
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
    out[:, :, pad:pad + h, pad:pad + w] = x
    return out


def _threads(n: int) -> int:
    """How many runs of samples to split a batch of n into: one per thread."""
    return max(1, min(n, get_num_threads()))


@_jit()
def _im2row(xs, c0, c1, F, S, Ho, Wo, rows):
    """xs (C, Hp, Wp) -> rows (Ho·Wo, (c1 − c0)·F·F): row h·Wo + q is the window at (h, q).

    The common stride-1 3×3 and 5×5 cases are unrolled: with F known only at run time, the
    three-step inner loop costs more than the copy it does.
    """
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
def _conv_fwd(xp, w2t, b, F, S, out, T):
    """xp (N, C, Hp, Wp), w2t (G, C/G·F·F, K/G), b (K,) -> out (N, G, K/G, Ho·Wo)"""
    N, G, Kg, L = out.shape
    R = w2t.shape[1]
    Cg = R // (F * F)
    Ho, Wo = (xp.shape[2] - F) // S + 1, (xp.shape[3] - F) // S + 1
    per = (N + T - 1) // T
    for t in prange(T):
        rows = np.empty((L, R), dtype=xp.dtype)
        o = np.empty((L, Kg), dtype=xp.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            for g in range(G):
                _im2row(xp[n], g * Cg, (g + 1) * Cg, F, S, Ho, Wo, rows)
                np.dot(rows, w2t[g], o)
                for k in range(Kg):
                    bk = b[g * Kg + k]
                    for p in range(L):
                        out[n, g, k, p] = o[p, k] + bk


@_jit(parallel=True)
def _conv_dw(xp, d, F, S, parts):
    """parts[t] = Σ over thread t's samples of dout · rows, per group. d (N, G, K/G, Ho·Wo),
    parts (T, G, K/G, C/G·F·F)."""
    N, G, Kg, L = d.shape
    T, R = parts.shape[0], parts.shape[3]
    Cg = R // (F * F)
    Ho, Wo = (xp.shape[2] - F) // S + 1, (xp.shape[3] - F) // S + 1
    per = (N + T - 1) // T
    for t in prange(T):
        rows = np.empty((L, R), dtype=xp.dtype)
        acc = np.zeros((G, Kg, R), dtype=xp.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            for g in range(G):
                _im2row(xp[n], g * Cg, (g + 1) * Cg, F, S, Ho, Wo, rows)
                acc[g] += np.dot(d[n, g], rows)
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


def _conv(xp, w, b, stride, groups):
    """The convolution of already padded input. xp (N, C, Hp, Wp), w (K, C/G, F, F)."""
    n, _, hp, wp = xp.shape
    k, cg, f, _ = w.shape
    kg = k // groups
    dtype = np.result_type(xp, w)
    ho, wo = (hp - f) // stride + 1, (wp - f) // stride + 1
    out = np.empty((n, groups, kg, ho * wo), dtype=dtype)
    w2t = np.ascontiguousarray(w.reshape(groups, kg, cg * f * f).transpose(0, 2, 1), dtype=dtype)
    bias = (b if b is not None else np.zeros(k)).astype(dtype, copy=False)
    _conv_fwd(np.ascontiguousarray(xp, dtype=dtype), w2t, bias, f, stride, out, _threads(n))
    return out.reshape(n, k, ho, wo)


def conv2d_forward(x, w, b, stride: int, pad: int, groups: int):
    """x (N, C, H, W), w (K, C/G, F, F), b (K,) or None -> out (N, K, Ho, Wo)"""
    return _conv(_pad(x, pad), w, b, stride, groups)


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

    For stride 1, dx is the forward convolution of dout, padded by F − 1, with the flipped
    weights: the gradient of the padded input, whose border is then cut off.
    """
    n, c, h, wd = x.shape
    k, cg, f, _ = w.shape
    kg = k // groups
    dout = np.ascontiguousarray(dout)
    d = dout.reshape(n, groups, kg, -1)
    xp = np.ascontiguousarray(_pad(x, pad))
    parts = np.empty((_threads(n), groups, kg, cg * f * f), dtype=dout.dtype)
    _conv_dw(xp, d, f, stride, parts)
    dw = parts.sum(axis=0).reshape(w.shape).astype(w.dtype, copy=False)  # added in a fixed order
    db = dout.sum(axis=(0, 2, 3)) if with_bias else None
    if not need_dx:
        return None, dw, db
    if stride == 1:
        dxp = _conv(_pad(dout, f - 1), _flipped(w, groups), None, 1, groups)
    else:
        dxp = np.zeros(xp.shape, dtype=dout.dtype)
        w2 = np.ascontiguousarray(w.reshape(groups, kg, cg * f * f), dtype=dout.dtype)
        _conv_dx_rows(d, w2, f, stride, dxp, _threads(n))
    return np.ascontiguousarray(dxp[:, :, pad:pad + h, pad:pad + wd]), dw, db


# ---- pooling ------------------------------------------------------------------------------------
@_jit(parallel=True)
def _maxpool_fwd(x, F, S, P, out, arg):
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for h in range(Ho):
            for q in range(Wo):
                best = -np.inf
                bi = -1
                for i in range(F):
                    y = h * S + i - P
                    if y < 0 or y >= H:
                        continue
                    for j in range(F):
                        xx = q * S + j - P
                        if xx < 0 or xx >= W:
                            continue
                        v = x[n, c, y, xx]
                        if bi < 0 or v > best:  # the first of equal values wins, as in the reference
                            best = v
                            bi = i * F + j
                out[n, c, h, q] = best
                arg[n, c, h, q] = bi


def maxpool_forward(x, size: int, stride: int, pad: int):
    """x (N, C, H, W) -> out (N, C, Ho, Wo), arg (N, C, Ho, Wo): the winner's index in its window"""
    n, c, h, w = x.shape
    ho, wo = (h - size + 2 * pad) // stride + 1, (w - size + 2 * pad) // stride + 1
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    arg = np.empty((n, c, ho, wo), dtype=np.int64)
    _maxpool_fwd(np.ascontiguousarray(x), size, stride, pad, out, arg)
    return out, arg


@_jit(parallel=True)
def _maxpool_bwd(dout, arg, F, S, P, dx):
    N, C, Ho, Wo = dout.shape
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        dx[n, c] = 0.0
        for h in range(Ho):
            for q in range(Wo):
                a = arg[n, c, h, q]
                dx[n, c, h * S + a // F - P, q * S + a % F - P] += dout[n, c, h, q]


def maxpool_backward(dout, arg, x_shape, size: int, stride: int, pad: int):
    dx = np.empty(x_shape, dtype=dout.dtype)
    _maxpool_bwd(np.ascontiguousarray(dout), arg, size, stride, pad, dx)
    return dx


@_jit(parallel=True)
def _avgpool_fwd(x, F, S, P, out):
    N, C, H, W = x.shape
    Ho, Wo = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for h in range(Ho):
            for q in range(Wo):
                s = 0.0
                for i in range(F):
                    y = h * S + i - P
                    if 0 <= y < H:
                        for j in range(F):
                            xx = q * S + j - P
                            if 0 <= xx < W:
                                s += x[n, c, y, xx]
                out[n, c, h, q] = s / (F * F)


def avgpool_forward(x, size: int, stride: int, pad: int):
    n, c, h, w = x.shape
    ho, wo = (h - size + 2 * pad) // stride + 1, (w - size + 2 * pad) // stride + 1
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    _avgpool_fwd(np.ascontiguousarray(x), size, stride, pad, out)
    return out


@_jit(parallel=True)
def _avgpool_bwd(dout, F, S, P, dx):
    N, C, H, W = dx.shape
    Ho, Wo = dout.shape[2], dout.shape[3]
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        dx[n, c] = 0.0
        for h in range(Ho):
            for q in range(Wo):
                g = dout[n, c, h, q] / (F * F)
                for i in range(F):
                    y = h * S + i - P
                    if 0 <= y < H:
                        for j in range(F):
                            xx = q * S + j - P
                            if 0 <= xx < W:
                                dx[n, c, y, xx] += g


def avgpool_backward(dout, x_shape, size: int, stride: int, pad: int):
    dx = np.empty(x_shape, dtype=dout.dtype)
    _avgpool_bwd(np.ascontiguousarray(dout), size, stride, pad, dx)
    return dx


# ---- batch normalization ---------------------------------------------------------------------------
@_jit(parallel=True)
def _bn_fwd(x, gamma, beta, eps, out, xhat, mean, var, inv_std):
    N, C, L = x.shape
    m = N * L
    for c in prange(C):
        s = 0.0
        for n in range(N):
            for l in range(L):
                s += x[n, c, l]
        mu = s / m
        s2 = 0.0
        for n in range(N):
            for l in range(L):
                d = x[n, c, l] - mu
                s2 += d * d
        v = s2 / m
        inv = 1.0 / math.sqrt(v + eps)
        mean[c], var[c], inv_std[c] = mu, v, inv
        for n in range(N):
            for l in range(L):
                xh = (x[n, c, l] - mu) * inv
                xhat[n, c, l] = xh
                out[n, c, l] = gamma[c] * xh + beta[c]


def batchnorm_forward(x, gamma, beta, eps: float):
    """x (N, C, L) -> out, xhat (N, C, L), mean, var, inv_std (C,)"""
    x = np.ascontiguousarray(x)
    c = x.shape[1]
    out, xhat = np.empty_like(x), np.empty_like(x)
    mean, var, inv_std = (np.empty(c, dtype=x.dtype) for _ in range(3))
    _bn_fwd(x, gamma, beta, eps, out, xhat, mean, var, inv_std)
    return out, xhat, mean, var, inv_std


@_jit(parallel=True)
def _bn_bwd(dout, xhat, gamma, inv_std, dx, dgamma, dbeta):
    N, C, L = dout.shape
    m = N * L
    for c in prange(C):
        sd = 0.0
        sdx = 0.0
        for n in range(N):
            for l in range(L):
                sd += dout[n, c, l]
                sdx += dout[n, c, l] * xhat[n, c, l]
        dbeta[c], dgamma[c] = sd, sdx
        k = gamma[c] * inv_std[c] / m
        for n in range(N):
            for l in range(L):
                dx[n, c, l] = k * (m * dout[n, c, l] - sd - xhat[n, c, l] * sdx)


def batchnorm_backward(dout, xhat, gamma, inv_std):
    """dout (N, C, L) -> dx (N, C, L), dgamma (C,), dbeta (C,)"""
    dout = np.ascontiguousarray(dout)
    c = dout.shape[1]
    dx = np.empty_like(dout)
    dgamma, dbeta = np.empty(c, dtype=dout.dtype), np.empty(c, dtype=dout.dtype)
    _bn_bwd(dout, np.ascontiguousarray(xhat), gamma, inv_std, dx, dgamma, dbeta)
    return dx, dgamma, dbeta
