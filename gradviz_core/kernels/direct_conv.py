"""The direct convolution, on the vector loops of ``simd.py``: float32 at stride 1, 3×3 or 5×5
filters, output channels a group in multiples of 8, on a CPU with AVX-512 (16 lanes) or AVX2
(8 lanes); no window matrix and no BLAS. ``fast_conv`` chooses it by the rule ``_direct`` and
takes window matrices and BLAS elsewhere.

The forward pass (and dX, the forward convolution of dout with the flipped filters) runs
over each padded image in the wide layout, VW positions and KB output channels a tile; dW
reads dout transposed (dt, positions × channels) and the padded image, a block of filter
rows at a time. dW and dX run in one pass over each sample, while its dout is in the core's
cache. Each output and each dW sum adds its terms in the same order at either width: the
width never changes a result.
"""
from __future__ import annotations

import os

import numba
import numpy as np
from numba import prange

from gradviz_core.kernels.conv_common import _act_back, _inside, _unwide
from gradviz_core.kernels.jit import _jit
from gradviz_core.kernels.simd import V, conv_tile, dw_tile, transpose_tile

#: filter sizes the direct kernels are unrolled for
DIRECT_SIZES = (3, 5)
#: whether dX runs in dW's pass (a switch for measuring it)
TOGETHER = True


def _simd_width() -> int:
    """The float32 lanes of this CPU's vectors that the direct kernels use: 16 with AVX-512, 8
    with AVX2 and FMA, 0 without them, or when Numba compiles for another CPU (NUMBA_CPU_NAME
    set, say for a portable cache: the code may then run where the vectors do not exist)."""
    import llvmlite.binding as llvm
    if numba.config.CPU_NAME not in (None, "host"):
        return 0
    features = set(llvm.get_host_cpu_features().flatten().split(","))
    if "+avx512f" in features:
        return 16
    return 8 if {"+avx2", "+fma"} <= features else 0


#: "auto" (the rule below), "on" (wherever the shapes allow, even without the vectors: for tests),
#: "8" or "16" (on, with that many lanes: 8 runs on AVX-512 CPUs too, to measure AVX2's kernels)
#: or "off" (window matrices and BLAS everywhere)
DIRECT = os.environ.get("GRADVIZ_DIRECT_CONV", "auto")
WIDTH = int(DIRECT) if DIRECT in ("8", "16") else _simd_width()


def _width() -> int:
    return WIDTH or 16


def _direct(dtype, stride: int, f: int, kg: int) -> bool:
    """Whether a convolution of these shapes runs on the direct kernels rather than on window
    matrices and BLAS: float32 at stride 1, a 3×3 or 5×5 filter, output channels a group in
    multiples of 8, a CPU with AVX-512 or AVX2. A rule of the shape and the machine, measured
    on the reference nets' layers with 16 lanes and with 8 (0.98 to 3.3 times the window
    matrices' speed, README), not a time taken per run: the same seed trains to the same bits
    on every run."""
    if DIRECT == "off" or np.dtype(dtype) != np.float32 or stride != 1 or f not in DIRECT_SIZES or kg % 8:
        return False
    return DIRECT != "auto" or WIDTH > 0


@_jit()
def _fwd_tile(xf, p0, Cg, cs, Wp, wd, wo, o, oo, os, F, KB, VW):
    """One conv_tile, its literals chosen from F, KB and VW (each its own unrolled loop)."""
    if VW == 8:
        if F == 3:
            conv_tile(xf, p0, Cg, cs, Wp, wd, wo, o, oo, os, 3, 8, 8)
        else:
            conv_tile(xf, p0, Cg, cs, Wp, wd, wo, o, oo, os, 5, 8, 8)
    elif F == 3:
        if KB == 16:
            conv_tile(xf, p0, Cg, cs, Wp, wd, wo, o, oo, os, 3, 16, 16)
        else:
            conv_tile(xf, p0, Cg, cs, Wp, wd, wo, o, oo, os, 3, 8, 16)
    elif KB == 16:
        conv_tile(xf, p0, Cg, cs, Wp, wd, wo, o, oo, os, 5, 16, 16)
    else:
        conv_tile(xf, p0, Cg, cs, Wp, wd, wo, o, oo, os, 5, 8, 16)


@_jit()
def _wide_conv(xf, Cg, Hp, Wp, F, wd, g, KB, VW, o, mv):
    """The direct forward convolution of one padded image xf (Cg, Hp, Wp) in the wide layout,
    all of group g's K/G output channels (o's rows, mv apart), KB at a time."""
    m = (Hp - F + 1) * Wp
    nk = o.size // mv
    for kb in range(nk // KB):
        wo = (g * (nk // KB) + kb) * Cg * F * F * KB
        for p0 in range(0, m, VW):
            _fwd_tile(xf, p0, Cg, Hp * Wp, Wp, wd, wo, o, kb * KB * mv + p0, mv, F, KB, VW)


@_jit(parallel=True)
def _conv_fwd_direct(x, P, wd, b, F, out, T, KB, VW, act, alpha):
    """x (N, C, H, W) padded by P here, wd (G·K/G·C/G·F·F) ordered (g, k block of KB, c, i, j,
    k), b (K,) -> out (N, G, K/G, Ho·Wo), through the activation when ``act``. Each sample's
    output is computed in the wide layout, VW positions at a time, into o, then the positions
    that exist are copied out with the bias added."""
    N, G, Kg, _ = out.shape
    Cg = x.shape[1] // G
    Hp, Wp = x.shape[2] + 2 * P, x.shape[3] + 2 * P
    Ho, Wo = Hp - F + 1, Wp - F + 1
    mv = (Ho * Wp + VW - 1) // VW * VW
    per = (N + T - 1) // T
    for t in prange(T):
        # the last vector of the last channel reads up to F + VW − 2 numbers past the image: zeros
        xf = np.zeros(Cg * Hp * Wp + F + V, dtype=x.dtype)
        xs = xf[:Cg * Hp * Wp].reshape((Cg, Hp, Wp))
        o = np.empty(Kg * mv, dtype=x.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            for g in range(G):
                _inside(x[n], g * Cg, (g + 1) * Cg, P, xs)
                _wide_conv(xf, Cg, Hp, Wp, F, wd, g, KB, VW, o, mv)
                _unwide(o, mv, Wp, Ho, Wo, out[n, g], b, g * Kg, act, alpha)


#: dW's blocks of filter rows, by (filter size, lanes): as many taps as leave registers for
#: the F rows of dout and the broadcast input (32 registers with AVX-512, 16 with AVX2); 3×3
#: filters take 8 or 9 rows, whichever wastes fewer (see _dw_rows)
DW_ROWS = {(3, 16): (9, 8), (5, 16): (5,), (3, 8): (3,), (5, 8): (2,)}


def _dw_rows(f: int, lanes: int, rows: int) -> int:
    """The block of filter rows for dW with ``rows`` rows in all (C/G · F): of the sizes that
    fit, the one that leaves the fewest spare rows in the last block (cifar's 48: 8)."""
    return min(DW_ROWS[f, lanes], key=lambda rb: (-rows % rb, -rb))


@_jit()
def _dw_tile_of(xf, xo, i0, nr, cs, Wp, dt, do, Kg, m, acc, ao, F, RB, KV):
    """One dw_tile, its literals chosen from F, RB and KV (each its own unrolled loop)."""
    if KV == 16:
        if F == 5:
            dw_tile(xf, xo, i0, nr, cs, Wp, dt, do, Kg, m, acc, ao, 5, 5, 16)
        elif RB == 9:
            dw_tile(xf, xo, i0, nr, cs, Wp, dt, do, Kg, m, acc, ao, 3, 9, 16)
        else:
            dw_tile(xf, xo, i0, nr, cs, Wp, dt, do, Kg, m, acc, ao, 3, 8, 16)
    elif F == 5:
        if RB == 5:
            dw_tile(xf, xo, i0, nr, cs, Wp, dt, do, Kg, m, acc, ao, 5, 5, 8)
        else:
            dw_tile(xf, xo, i0, nr, cs, Wp, dt, do, Kg, m, acc, ao, 5, 2, 8)
    elif RB == 9:
        dw_tile(xf, xo, i0, nr, cs, Wp, dt, do, Kg, m, acc, ao, 3, 9, 8)
    elif RB == 8:
        dw_tile(xf, xo, i0, nr, cs, Wp, dt, do, Kg, m, acc, ao, 3, 8, 8)
    else:
        dw_tile(xf, xo, i0, nr, cs, Wp, dt, do, Kg, m, acc, ao, 3, 3, 8)


@_jit()
def _transpose_of(src, so, sl, dst, do, dl, N):
    """One transpose_tile of N × N (16 or 8), its literal chosen from N."""
    if N == 16:
        transpose_tile(src, so, sl, dst, do, dl, 16)
    else:
        transpose_tile(src, so, sl, dst, do, dl, 8)


@_jit()
def _aligned(n, dtype):
    """n zeros whose first is on a 64-byte boundary: dw_tile's vector loads of dt (up to 64
    bytes each) then never straddle two cache lines (measured: a third slower when they do)."""
    buf = np.zeros(n + 16, dtype=dtype)  # 64 bytes spare, for float32
    skip = (-buf.ctypes.data) % 64 // buf.itemsize
    return buf[skip:skip + n]


@_jit(parallel=True)
def _conv_bwd_direct(x, P, d, F, parts, KV, RB, bias, act, a, alpha, da, wdx, KBx, VW, dx):
    """Stride 1, float32: as ``_conv_dw``, on the direct kernels, and dX in the same pass
    when dx is given (not empty). Per sample, dout (taken through the activation first, with
    ``act``: into da when given, else into a buffer) is transposed into dt: wide positions by
    K/G, zero before, after and where a position does not exist, KV × KV blocks at a time in
    registers. Then dW the taps of RB filter rows and KV output channels at a time, straight
    from the padded image; db is dout's sums. dX
    (N, G, C/G, H·W) is the forward convolution of dout, padded by F − 1 − P, with the flipped
    filters wdx (as ``_conv_fwd_direct`` takes them, KBx output channels and VW positions a
    tile): computed while the sample's dout is still in the core's cache, it is never read
    from memory again. (An infinite input gives NaN, not ±inf, in the dW sums that meet dt's
    zeros, 0 · inf: the divergence guard stops the run either way.)"""
    N, G, Kg, L = d.shape
    T, R = parts.shape[0], parts.shape[2]
    Cg = (R - bias) // (F * F)
    Hp, Wp = x.shape[2] + 2 * P, x.shape[3] + 2 * P
    Ho, Wo = Hp - F + 1, Wp - F + 1
    m = Ho * Wp
    cs = Hp * Wp
    full = Wo // KV * KV  # positions a row transposed in blocks
    with_dx = dx.size > 0
    Pd = F - 1 - P  # dX: dout's border
    Hq, Wq = Ho + 2 * Pd, Wo + 2 * Pd
    mvx = ((Hq - F + 1) * Wq + VW - 1) // VW * VW if with_dx else 0
    per = (N + T - 1) // T
    for t in prange(T):
        xf = np.zeros(Cg * cs + F, dtype=x.dtype)
        xs = xf[:Cg * cs].reshape((Cg, Hp, Wp))
        dt = _aligned((m + 2 * F - 2) * Kg, x.dtype)
        acc = np.zeros((G, R, Kg), dtype=x.dtype)
        took = np.empty((Kg, L) if act and da.size == 0 else (0, L), dtype=x.dtype)
        yf = np.zeros(Kg * Hq * Wq + F + V if with_dx else 0, dtype=x.dtype)
        ys = yf[:Kg * Hq * Wq].reshape((Kg, Hq, Wq)) if with_dx else yf[:0].reshape((0, Hq, Wq))
        ob = np.empty(Cg * mvx, dtype=x.dtype)
        for n in range(t * per, min(N, (t + 1) * per)):
            for g in range(G):
                _inside(x[n], g * Cg, (g + 1) * Cg, P, xs)
                src = d[n, g]
                if act:
                    src = da[n, g] if da.size > 0 else took
                    _act_back(d[n, g].reshape(-1), a[n, g].reshape(-1), alpha, src.reshape(-1))
                if bias:
                    for k in range(Kg):
                        row, s = src[k], x.dtype.type(0)
                        for p in range(L):
                            s += row[p]
                        acc[g, R - 1, k] += s
                flat = src.reshape(-1)
                for h in range(Ho):
                    for q0 in range(0, full, KV):
                        for k0 in range(0, Kg, KV):
                            _transpose_of(flat, k0 * L + h * Wo + q0, L, dt, (h * Wp + q0 + F - 1) * Kg + k0, Kg, KV)
                    for q in range(full, Wo):
                        o = (h * Wp + q + F - 1) * Kg
                        for k in range(Kg):
                            dt[o + k] = src[k, h * Wo + q]
                accg = acc[g].reshape(-1)
                for kh in range(Kg // KV):
                    for r0 in range(0, Cg * F, RB):  # RB filter rows (c, i) at a time
                        _dw_tile_of(xf, r0 // F * cs, r0 % F, min(RB, Cg * F - r0), cs, Wp, dt, kh * KV, Kg, m,
                                    accg, r0 * F * Kg + kh * KV, F, RB, KV)
                if with_dx:
                    _inside(src.reshape((Kg, Ho, Wo)), 0, Kg, Pd, ys)
                    _wide_conv(yf, Kg, Hq, Wq, F, wdx, g, KBx, VW, ob, mvx)
                    _unwide(ob, mvx, Wq, Hq - F + 1, Wq - F + 1, dx[n, g], wdx[:0], 0, False, alpha)
        parts[t] = acc


def _direct_weights(w, groups, dtype):
    """w (K, C/G, F, F) -> KB (output channels a tile of the direct forward kernel: 16 where
    they come in 16s and the vectors have 16 lanes, else 8) and the weights in its order,
    (G, K/G/KB, C/G, F, F, KB) flattened: a tap's KB weights side by side."""
    k, cg, f, _ = w.shape
    kg = k // groups
    kb = 16 if kg % 16 == 0 and _width() == 16 else 8
    wd = w.reshape(groups, kg // kb, kb, cg, f, f).transpose(0, 1, 3, 4, 5, 2)
    return kb, np.ascontiguousarray(wd, dtype=dtype).reshape(-1)
