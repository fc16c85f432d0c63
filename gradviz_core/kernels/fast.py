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


def linear_forward(x, w, b):
    """out = x W + b (the product by BLAS). x (N, D), w (D, K), b (K,) or None -> (N, K)"""
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
    serial, parallel = _jit()(body), _jit(parallel=True)(body)

    def run(*arrays):
        flat = [np.ascontiguousarray(a).reshape(-1) for a in arrays]
        out = np.empty_like(flat[0])
        (serial if flat[0].size < SMALL else parallel)(out, *flat)
        return out.reshape(np.shape(arrays[0]))
    return run


def _sigmoid_body(out, x):
    for i in prange(x.size):
        v = x[i]
        if v >= 0:
            out[i] = 1.0 / (1.0 + math.exp(-v))
        else:
            e = math.exp(v)
            out[i] = e / (1.0 + e)


_sigmoid = _elementwise(_sigmoid_body)


def sigmoid(x):
    """σ(x) = 1 / (1 + e^(−x)), without overflow."""
    return _sigmoid(x)


def _make_relu(alpha_zero: bool):
    def fwd(out, x, a):
        alpha = a[0]
        for i in prange(x.size):
            v = x[i]
            # "not v <= 0" keeps NaN (as np.maximum does), so the divergence guard sees it
            out[i] = v if not v <= 0 else (0.0 if alpha_zero else alpha * v)

    def bwd(out, d, x, a):
        alpha = a[0]
        for i in prange(x.size):
            out[i] = d[i] if x[i] > 0 else (0.0 if alpha_zero else alpha * d[i])
    return _elementwise(fwd), _elementwise(bwd)


_relu = {True: _make_relu(True), False: _make_relu(False)}


def relu_forward(x, alpha: float = 0.0):
    """max(0, x), or leaky: x for x > 0 and α·x otherwise."""
    return _relu[alpha == 0.0][0](x, np.full(1, alpha, dtype=x.dtype))


def relu_backward(dout, x, alpha: float = 0.0):
    return _relu[alpha == 0.0][1](dout, x, np.full(1, alpha, dtype=x.dtype))


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
# Per sample: im2col into a (C·F·F, Ho·Wo) matrix that fits in cache, then one BLAS GEMM
# with the filters. Samples run in parallel (prange); BLAS itself runs single-threaded
# (see kernels.use), so the two never fight over the cores. dW sums per-thread partials
# in a fixed order, so results do not depend on scheduling.
def _pad(x, pad: int):
    """Zeros around each image (np.pad is several times slower for this)."""
    if pad == 0:
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
    out[:, :, pad:pad + h, pad:pad + w] = x
    return out


@_jit()
def _im2col(xs, F, S, Ho, Wo, cols):
    """xs (C, Hp, Wp) -> cols (C·F·F, Ho·Wo): row (c, i, j) holds xs[c, S·h + i, S·q + j]."""
    r = 0
    for c in range(xs.shape[0]):
        for i in range(F):
            for j in range(F):
                row = cols[r]
                for h in range(Ho):
                    src = xs[c, h * S + i]
                    if S == 1:  # unit stride vectorizes; a runtime stride would not
                        for q in range(Wo):
                            row[h * Wo + q] = src[q + j]
                    else:
                        for q in range(Wo):
                            row[h * Wo + q] = src[q * S + j]
                r += 1


@_jit()
def _col2im(cols, F, S, Ho, Wo, dxs):
    """The adjoint of _im2col: add each row back where it was read from (into dxs)."""
    r = 0
    for c in range(dxs.shape[0]):
        for i in range(F):
            for j in range(F):
                row = cols[r]
                for h in range(Ho):
                    dst = dxs[c, h * S + i]
                    if S == 1:
                        for q in range(Wo):
                            dst[q + j] += row[h * Wo + q]
                    else:
                        for q in range(Wo):
                            dst[q * S + j] += row[h * Wo + q]
                r += 1


@_jit(parallel=True)
def _conv_fwd(xp, w2, b, F, S, G, out):
    """xp (N, C, Hp, Wp), w2 (K, C/G·F·F), b (K,) -> out (N, K, Ho·Wo)"""
    N, K, L = out.shape
    Ho, Wo = (xp.shape[2] - F) // S + 1, (xp.shape[3] - F) // S + 1
    R, Kg = w2.shape[1], K // G
    for n in prange(N):
        cols = np.empty((G * R, L), dtype=xp.dtype)
        _im2col(xp[n], F, S, Ho, Wo, cols)
        for g in range(G):
            # whole arrays for one group: Numba types slices as layout 'A', and np.dot then copies
            o = np.dot(w2, cols) if G == 1 else np.dot(w2[g * Kg:(g + 1) * Kg].copy(), cols[g * R:(g + 1) * R].copy())
            for k in range(Kg):
                bk = b[g * Kg + k]
                for p in range(L):
                    out[n, g * Kg + k, p] = o[k, p] + bk


@_jit(parallel=True)
def _conv_dw(xp, d, F, S, G, parts):
    """Per thread t, the sum over its samples of cols · doutᵀ. parts (T, C/G·F·F, K) per group."""
    N, K, L = d.shape
    Ho, Wo = (xp.shape[2] - F) // S + 1, (xp.shape[3] - F) // S + 1
    T, R = parts.shape[0], parts.shape[1] // G
    Kg = K // G
    per = (N + T - 1) // T
    for t in prange(T):
        cols = np.empty((G * R, L), dtype=xp.dtype)
        acc = np.zeros((G * R, Kg), dtype=xp.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            _im2col(xp[n], F, S, Ho, Wo, cols)
            if G == 1:
                acc += np.dot(cols, np.ascontiguousarray(d[n].T))
            else:
                for g in range(G):
                    dt = np.ascontiguousarray(d[n, g * Kg:(g + 1) * Kg].T)
                    acc[g * R:(g + 1) * R] += np.dot(cols[g * R:(g + 1) * R].copy(), dt)
        parts[t] = acc


@_jit(parallel=True)
def _conv_dx(d, w2t, F, S, G, dxp):
    """dxp (N, C, Hp, Wp), zeroed, += col2im(w2ᵀ · dout) per sample. w2t (G, C/G·F·F, K/G)."""
    N, K, L = d.shape
    Ho, Wo = (dxp.shape[2] - F) // S + 1, (dxp.shape[3] - F) // S + 1
    R, Kg = w2t.shape[1], K // G
    for n in prange(N):
        if G == 1:
            cols = np.dot(w2t[0], d[n])
        else:
            cols = np.empty((G * R, L), dtype=d.dtype)
            for g in range(G):
                cols[g * R:(g + 1) * R] = np.dot(w2t[g], d[n, g * Kg:(g + 1) * Kg].copy())
        _col2im(cols, F, S, Ho, Wo, dxp[n])


def conv2d_forward(x, w, b, stride: int, pad: int, groups: int):
    """x (N, C, H, W), w (K, C/G, F, F), b (K,) or None -> out (N, K, Ho, Wo)"""
    n, _, h, wd = x.shape
    k, _, f, _ = w.shape
    ho, wo = (h - f + 2 * pad) // stride + 1, (wd - f + 2 * pad) // stride + 1
    dtype = np.result_type(x, w)
    out = np.empty((n, k, ho * wo), dtype=dtype)
    bias = b if b is not None else np.zeros(k, dtype=dtype)
    _conv_fwd(np.ascontiguousarray(_pad(x, pad), dtype=dtype), np.ascontiguousarray(w.reshape(k, -1), dtype=dtype),
              bias.astype(dtype, copy=False), f, stride, groups, out)
    return out.reshape(n, k, ho, wo)


def conv2d_backward(dout, x, w, stride: int, pad: int, groups: int, with_bias: bool = True,
                    need_dx: bool = True):
    """dout (N, K, Ho, Wo) -> dx (N, C, H, W) or None, dw (K, C/G, F, F), db (K,) or None."""
    n, c, h, wd = x.shape
    k, cg, f, _ = w.shape
    kg = k // groups
    d = np.ascontiguousarray(dout).reshape(n, k, -1)
    xp = np.ascontiguousarray(_pad(x, pad))
    parts = np.empty((max(1, min(n, get_num_threads())), groups * cg * f * f, kg), dtype=dout.dtype)
    _conv_dw(xp, d, f, stride, groups, parts)
    total = parts.sum(axis=0)  # (G·R, Kg), added in a fixed order
    dw = np.ascontiguousarray(total.reshape(groups, cg * f * f, kg).transpose(0, 2, 1)).reshape(w.shape)
    db = dout.sum(axis=(0, 2, 3)) if with_bias else None
    if not need_dx:
        return None, dw.astype(w.dtype, copy=False), db
    w2t = np.ascontiguousarray(w.reshape(groups, kg, cg * f * f).transpose(0, 2, 1))
    dxp = np.zeros(xp.shape, dtype=dout.dtype)
    _conv_dx(d, w2t, f, stride, groups, dxp)
    return np.ascontiguousarray(dxp[:, :, pad:pad + h, pad:pad + wd]), dw.astype(w.dtype, copy=False), db


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
