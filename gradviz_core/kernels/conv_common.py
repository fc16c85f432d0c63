"""What both of ``fast_conv``'s ways of convolving share: the padded copy of an image, the
fused activation and its gradient, and the copy of a result out of the wide layout."""
from __future__ import annotations

from gradviz_core.kernels.jit import _jit


@_jit()
def _inside(xs, c0, c1, P, out):
    """xs (C, H, W), channels c0 … c1 − 1 -> the inside of out (c1 − c0, H + 2P, W + 2P), whose
    border of P stays as it is (zeros: buffers are zeroed once and reused for every sample)."""
    H, W = xs.shape[1], xs.shape[2]
    for c in range(c1 - c0):
        for h in range(H):
            src, dst = xs[c0 + c, h], out[c, P + h, P:P + W]
            for q in range(W):
                dst[q] = src[q]


@_jit()
def _act(v, alpha):
    """The fused activation, as relu_forward computes it: max(0, v), or v for v > 0 and α·v
    otherwise; "not v <= 0" keeps NaN, so the divergence guard sees it."""
    return v if not v <= 0 else (alpha * v if alpha != 0 else 0.0)  # 0·(−∞) would be NaN


@_jit()
def _act_back(d, a, alpha, out):
    """The gradient d at the activation's output a, taken through it (as relu_backward does,
    with a in place of the activation's input: the two have the same sign)."""
    for p in range(d.size):
        out[p] = d[p] if a[p] > 0 else (alpha * d[p] if alpha != 0 else 0.0)


@_jit()
def _unwide(o, mv, Wp, Ho, Wo, dst, b, b0, act, alpha):
    """The positions that exist of o's rows (the wide layout: Wp numbers an output row, mv a
    channel; Wp = Wo: rows as they are) -> dst (rows, Ho·Wo), plus b[b0 + row] unless b is
    empty, through the activation when ``act``."""
    for k in range(dst.shape[0]):
        bk = b[b0 + k] if b.size > 0 else o.dtype.type(0)
        for h in range(Ho):
            src, line = o[k * mv + h * Wp:k * mv + h * Wp + Wo], dst[k, h * Wo:(h + 1) * Wo]
            if act:
                for q in range(Wo):
                    line[q] = _act(src[q] + bk, alpha)
            else:
                for q in range(Wo):
                    line[q] = src[q] + bk
