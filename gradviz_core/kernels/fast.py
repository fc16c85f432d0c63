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
from numba import njit, prange

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
# Direct convolution. The output row is the innermost loop (it vectorizes), and four filters
# share every load of x (register blocking); the filter count is padded with zero filters to
# a multiple of 4 so the inner loop has no branches. Groups run one after another.
def _pad(x, pad: int):
    """Zeros around each image (np.pad is several times slower for this)."""
    if pad == 0:
        return x
    n, c, h, w = x.shape
    out = np.zeros((n, c, h + 2 * pad, w + 2 * pad), dtype=x.dtype)
    out[:, :, pad:pad + h, pad:pad + w] = x
    return out


@_jit(parallel=True)
def _conv_rows(xp, w, b, out, S):
    """out[n, k, h, :] = b[k] + Σ_c,i,j w[k, c, i, j] · xp[n, c, S·h + i, S·q + j]; K % 4 == 0."""
    N, K, Ho, Wo = out.shape
    C, F = w.shape[1], w.shape[2]
    for nh in prange(N * Ho):
        n, h = nh // Ho, nh % Ho
        acc = np.empty((4, Wo), dtype=out.dtype)
        for k in range(0, K, 4):
            for r in range(4):
                acc[r, :] = b[k + r]
            for c in range(C):
                for i in range(F):
                    xr = xp[n, c, h * S + i]
                    for j in range(F):
                        w0, w1, w2, w3 = w[k, c, i, j], w[k + 1, c, i, j], w[k + 2, c, i, j], w[k + 3, c, i, j]
                        if S == 1:
                            for q in range(Wo):
                                v = xr[q + j]
                                acc[0, q] += w0 * v
                                acc[1, q] += w1 * v
                                acc[2, q] += w2 * v
                                acc[3, q] += w3 * v
                        else:
                            for q in range(Wo):
                                v = xr[q * S + j]
                                acc[0, q] += w0 * v
                                acc[1, q] += w1 * v
                                acc[2, q] += w2 * v
                                acc[3, q] += w3 * v
            for r in range(4):
                out[n, k + r, h, :] = acc[r]


def _conv_group(xp, w, b, stride):
    """One group: xp (N, C, Hp, Wp) padded, w (K, C, F, F) -> (N, K, Ho, Wo)."""
    n, _, hp, wp = xp.shape
    k, _, f, _ = w.shape
    k4 = -(-k // 4) * 4
    if k4 != k:
        w = np.concatenate([w, np.zeros((k4 - k,) + w.shape[1:], dtype=w.dtype)])
        b = np.concatenate([b, np.zeros(k4 - k, dtype=b.dtype)])
    out = np.empty((n, k4, (hp - f) // stride + 1, (wp - f) // stride + 1), dtype=np.result_type(xp, w))
    _conv_rows(np.ascontiguousarray(xp), np.ascontiguousarray(w), np.ascontiguousarray(b), out, stride)
    return out if k4 == k else out[:, :k]


def _conv_padded(xp, w, b, stride, groups):
    if groups == 1:
        return _conv_group(xp, w, b, stride)
    cg, kg = xp.shape[1] // groups, w.shape[0] // groups
    return np.concatenate([_conv_group(xp[:, g * cg:(g + 1) * cg], w[g * kg:(g + 1) * kg],
                                       b[g * kg:(g + 1) * kg], stride) for g in range(groups)], axis=1)


def conv2d_forward(x, w, b, stride: int, pad: int, groups: int):
    """x (N, C, H, W), w (K, C/G, F, F), b (K,) or None -> out (N, K, Ho, Wo)"""
    bias = b if b is not None else np.zeros(w.shape[0], dtype=np.result_type(x, w))
    return np.ascontiguousarray(_conv_padded(_pad(x, pad), w, bias, stride, groups))


@_jit(parallel=True)
def _conv_dw(dout, xp, dw, S, G):
    """dW[k, c, i, j] = Σ_n,h,q dout[n, k, h, q] · xp[n, c, S·h + i, S·q + j], one (k, c) per task."""
    N, K, Ho, Wo = dout.shape
    _, Cg, F, _ = dw.shape
    Kg = K // G
    zero = dout[0, 0, 0, 0] * 0  # accumulate in the data's own type, as BLAS does
    for kc in prange(K * Cg):
        k, c = kc // Cg, kc % Cg
        ci = (k // Kg) * Cg + c
        acc = np.zeros((F, F), dtype=dw.dtype)
        for n in range(N):
            for h in range(Ho):
                d = dout[n, k, h]
                for i in range(F):
                    xr = xp[n, ci, h * S + i]
                    for j in range(F):
                        s = zero
                        for q in range(Wo):
                            s += d[q] * xr[q * S + j]
                        acc[i, j] += s
        for i in range(F):
            for j in range(F):
                dw[k, c, i, j] = acc[i, j]


@_jit(parallel=True)
def _conv_dw4(dout, xp, dw):
    """Stride 1, one group, K % 4 == 0: four filters share each load of x; per-column partial
    sums are kept over the whole batch and added up once at the end."""
    N, K, Ho, Wo = dout.shape
    _, C, F, _ = dw.shape
    for task in prange((K // 4) * C):
        k, c = (task // C) * 4, task % C
        acc = np.zeros((4, F, F, Wo), dtype=dw.dtype)
        for n in range(N):
            for h in range(Ho):
                d0, d1, d2, d3 = dout[n, k, h], dout[n, k + 1, h], dout[n, k + 2, h], dout[n, k + 3, h]
                for i in range(F):
                    xr = xp[n, c, h + i]
                    for j in range(F):
                        a0, a1, a2, a3 = acc[0, i, j], acc[1, i, j], acc[2, i, j], acc[3, i, j]
                        for q in range(Wo):
                            v = xr[q + j]
                            a0[q] += d0[q] * v
                            a1[q] += d1[q] * v
                            a2[q] += d2[q] * v
                            a3[q] += d3[q] * v
        for r in range(4):
            for i in range(F):
                for j in range(F):
                    dw[k + r, c, i, j] = acc[r, i, j].sum()


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

    dx is the forward kernel run on dout (spread out by the stride and padded by F − 1)
    with the flipped weights, giving the gradient of the padded input; its border is cut.
    """
    n, c, h, wd = x.shape
    k, _, f, _ = w.shape
    dout = np.ascontiguousarray(dout)
    xp = np.ascontiguousarray(_pad(x, pad))
    dw = np.empty_like(w)
    if stride == 1 and groups == 1 and k % 4 == 0:
        _conv_dw4(dout, xp, dw)
    else:
        _conv_dw(dout, xp, dw, stride, groups)
    db = dout.sum(axis=(0, 2, 3)) if with_bias else None
    if not need_dx:
        return None, dw, db
    ho, wo = dout.shape[2], dout.shape[3]
    if stride > 1:
        spread = np.zeros((n, k, (ho - 1) * stride + 1, (wo - 1) * stride + 1), dtype=dout.dtype)
        spread[:, :, ::stride, ::stride] = dout
        dout = spread
    full = _conv_padded(_pad(dout, f - 1), _flipped(w, groups), np.zeros(c, dtype=dout.dtype), 1, groups)
    hp, wp = h + 2 * pad, wd + 2 * pad
    dxp = np.zeros((n, c, hp, wp), dtype=dout.dtype)
    dxp[:, :, :full.shape[2], :full.shape[3]] = full[:, :, :hp, :wp]
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
