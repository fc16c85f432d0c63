"""Numba kernels with exactly the signatures of ``reference.py`` (the tests check they agree).

Parallel loops give each thread its own outputs (convolution over runs of samples, see
fast_conv.py; pooling over (sample, channel); batch norm over channels), so there is no
racy accumulation and results are the same on every run with the same threads. The
shared Numba settings are in jit.py.
"""
from __future__ import annotations

import math

import numpy as np
from numba import prange

from gradviz_core.kernels.fast_conv import conv2d_backward, conv2d_forward  # noqa: F401
from gradviz_core.kernels.jit import FM, SMALL, _jit  # noqa: F401
from gradviz_core.kernels.reference import MLP_ACTS  # noqa: F401


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


@_jit()
def _mlp_rows(h, ws, bs, acts, alphas):
    """One block of rows through every layer; each product by BLAS, the bias and the
    activation in one pass while the block is in cache."""
    for layer in range(len(ws)):
        z = np.dot(h, ws[layer])
        b, a, alpha = bs[layer], acts[layer], alphas[layer]
        for i in range(z.shape[0]):
            for j in range(z.shape[1]):
                v = z[i, j] + b[j]
                if a == 1:
                    v = max(v, 0.0)
                elif a == 2:
                    v = v if v > 0 else alpha * v
                elif a == 3:
                    v = math.tanh(v)
                elif a == 4:
                    v = 1.0 / (1.0 + math.exp(-v))
                z[i, j] = v
        h = z
    return h


@_jit(parallel=True)
def _mlp_blocks(x, ws, bs, acts, alphas, out, block):
    n = x.shape[0]
    for c in prange((n + block - 1) // block):
        s, e = c * block, min(n, (c + 1) * block)
        out[s:e] = _mlp_rows(np.ascontiguousarray(x[s:e]), ws, bs, acts, alphas)


MLP_BLOCK = 2048  # rows: each layer's activations for a block stay in cache (2048 × 100 floats: 800 KB)


def mlp_forward(x, ws, bs, acts, alphas):
    """``reference.mlp_forward``, fused: blocks of rows go to threads, and each block passes
    through every layer before the next (the decision-boundary grid of a small MLP: one pass
    over memory instead of three per layer)."""
    from numba.typed import List
    dt = x.dtype
    out = np.empty((x.shape[0], ws[-1].shape[1]), dtype=dt)
    if x.shape[0] == 0:
        return out
    _mlp_blocks(np.ascontiguousarray(x), List([np.ascontiguousarray(w, dtype=dt) for w in ws]),
                List([np.ascontiguousarray(b, dtype=dt) for b in bs]), np.asarray(acts, np.int64),
                np.asarray(alphas, dt), out, MLP_BLOCK)
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


# ---- convolution: see fast_conv.py --------------------------------------------------------------

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
                        # the first of equal values wins, and a NaN wins (argmax's rules in the reference)
                        if bi < 0 or v > best or (v != v and best == best):
                            best = v
                            bi = i * F + j
                out[n, c, h, q] = best
                arg[n, c, h, q] = bi


@_jit(parallel=True)
def _maxpool2_fwd(x, out, arg):
    """The common 2×2 pool of stride 2 without padding, through row views (no bounds to test)."""
    N, C = x.shape[0], x.shape[1]
    Ho, Wo = out.shape[2], out.shape[3]
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for h in range(Ho):
            r0, r1, o, a = x[n, c, 2 * h], x[n, c, 2 * h + 1], out[n, c, h], arg[n, c, h]
            for q in range(Wo):
                w0, w1, w2, w3 = r0[2 * q], r0[2 * q + 1], r1[2 * q], r1[2 * q + 1]
                best, bi = w0, 0  # the first of equal values wins, as in the reference
                if w1 > best:
                    best, bi = w1, 1
                if w2 > best:
                    best, bi = w2, 2
                if w3 > best:
                    best, bi = w3, 3
                total = w0 + w1 + w2 + w3
                if total != total:  # rare: a NaN wins (argmax's rule); tested apart, not per compare
                    for k, v in enumerate((w0, w1, w2, w3)):
                        if v != v:
                            best, bi = v, k
                            break
                o[q], a[q] = best, bi


@_jit(parallel=True)
def _maxpool2_bwd(dout, arg, dx):
    """Each window's four gradients written at once (the winner's, three zeros): one pass over dx."""
    N, C = dout.shape[0], dout.shape[1]
    Ho, Wo = dout.shape[2], dout.shape[3]
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for h in range(Ho):
            r0, r1, d, a = dx[n, c, 2 * h], dx[n, c, 2 * h + 1], dout[n, c, h], arg[n, c, h]
            for q in range(Wo):
                k, v = a[q], d[q]
                r0[2 * q] = v if k == 0 else 0.0
                r0[2 * q + 1] = v if k == 1 else 0.0
                r1[2 * q] = v if k == 2 else 0.0
                r1[2 * q + 1] = v if k == 3 else 0.0


def _pool2(x_shape, size, stride, pad) -> bool:
    return size == 2 and stride == 2 and pad == 0 and x_shape[2] % 2 == 0 and x_shape[3] % 2 == 0


def maxpool_forward(x, size: int, stride: int, pad: int):
    """x (N, C, H, W) -> out (N, C, Ho, Wo), arg (N, C, Ho, Wo): the winner's index in its window"""
    n, c, h, w = x.shape
    ho, wo = (h - size + 2 * pad) // stride + 1, (w - size + 2 * pad) // stride + 1
    out = np.empty((n, c, ho, wo), dtype=x.dtype)
    if _pool2(x.shape, size, stride, pad):  # a byte per winner: a quarter of the memory an int32 moves
        arg = np.empty((n, c, ho, wo), dtype=np.uint8)
        _maxpool2_fwd(np.ascontiguousarray(x), out, arg)
    else:
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
    if _pool2(x_shape, size, stride, pad):
        _maxpool2_bwd(np.ascontiguousarray(dout), arg, dx)
    else:
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


