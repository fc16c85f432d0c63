"""The direct convolution's inner loops, written as LLVM vector code (Numba intrinsics).

Numba's own vectorizer cannot keep a convolution's accumulators in registers: written as
arrays they stay in memory (21–42 GFLOP/s measured), and its SLP vectorizer is off. These
intrinsics state the vectors outright, so that LLVM emits one packed FMA per tap and output
vector, its broadcast operand folded into the instruction (``vfmadd231ps (…){1to16}``):

* ``conv_tile``: the forward pass (and dX, the forward convolution of dout with the flipped
  filters) for VW neighbouring output positions and KB output channels, one vector of VW
  positions a channel, summed over every input channel and tap. The positions are those of
  the "wide" layout of ``fast_conv`` (Wp a row, the last Wp − Wo of each are dropped), so a
  tap's VW inputs are one unaligned load from the padded image, with no window matrix.
* ``dw_tile``: dW for the taps of RB filter rows (of one or more input channels) and KV
  output channels, one vector of KV output channels a tap, summed over positions: dout
  arrives transposed, (positions, K), zero where a position does not exist.
* ``transpose_tile``: an N × N block of dout transposed in registers, for ``dw_tile``.

Each takes its shape constants (filter size, channels per block, vector width: 16 lanes on
AVX-512, 8 on AVX2) as literals, so that each combination is its own unrolled loop. They
read float32 arrays only and check no bounds: the caller keeps every read and write inside
its buffers (see ``direct_conv._conv_fwd_direct`` and ``_conv_bwd_direct``).
"""
from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

#: the most float32 lanes a vector of these kernels has (AVX-512); AVX2 machines use 8
V = 16

_F32 = ir.FloatType()
_I32 = ir.IntType(32)


def _literals(*args) -> bool:
    return all(isinstance(a, types.IntegerLiteral) for a in args)


def _f32_arrays(*arrays) -> bool:
    """Flat, contiguous float32 arrays: the kernels index their data directly, strides unread."""
    return all(isinstance(a, types.Array) and a.dtype == types.float32 and a.ndim == 1 and a.layout == "C"
               for a in arrays)


def _data(context, builder, aryty, value):
    return context.make_array(aryty)(context, builder, value).data


def _fma(builder, vt):
    fnty = ir.FunctionType(vt, [vt, vt, vt])
    return cgutils.get_or_insert_function(builder.module, fnty, f"llvm.fma.v{vt.count}f32")


def _splat(builder, vt, scalar):
    one = builder.insert_element(ir.Constant(vt, None), scalar, ir.Constant(_I32, 0))
    return builder.shuffle_vector(one, ir.Constant(vt, None), ir.Constant(ir.VectorType(_I32, vt.count), None))


def _at(builder, base, offset, vt=None):
    """A pointer to base[offset], as a pointer to a vector when vt is given."""
    p = builder.gep(base, [offset])
    return builder.bitcast(p, vt.as_pointer()) if vt is not None else p


@intrinsic
def conv_tile(typingctx, x, xo, nc, cs, wp, w, wo, o, oo, os, F, KB, VW):
    """o[oo + k·os + v] = Σ_c Σ_ij w[wo + ((c·F + i)·F + j)·KB + k] · x[xo + c·cs + i·wp + j + v]
    for k < KB, v < VW: the forward convolution at VW neighbouring positions (wide layout)."""
    if not (_literals(F, KB, VW) and _f32_arrays(x, w, o)):
        return None
    f, kb, vw = F.literal_value, KB.literal_value, VW.literal_value
    sig = types.void(x, xo, nc, cs, wp, w, wo, o, oo, os, F, KB, VW)

    def codegen(context, builder, signature, args):
        xa, xo_, nc_, cs_, wp_, wa, wo_, oa, oo_, os_ = args[:10]
        X = _data(context, builder, signature.args[0], xa)
        W = _data(context, builder, signature.args[5], wa)
        O = _data(context, builder, signature.args[7], oa)
        i64, vt = xo_.type, ir.VectorType(_F32, vw)
        fma = _fma(builder, vt)
        accs = [cgutils.alloca_once_value(builder, ir.Constant(vt, None)) for _ in range(kb)]
        with cgutils.for_range(builder, nc_) as loop:
            c = loop.index
            xb = _at(builder, X, builder.add(xo_, builder.mul(c, cs_)))
            wb = _at(builder, W, builder.add(wo_, builder.mul(c, ir.Constant(i64, f * f * kb))))
            for i in range(f):
                row = _at(builder, xb, builder.mul(wp_, ir.Constant(i64, i)))
                for j in range(f):
                    xv = builder.load(_at(builder, row, ir.Constant(i64, j), vt), align=4)
                    for k in range(kb):
                        wk = builder.load(_at(builder, wb, ir.Constant(i64, (i * f + j) * kb + k)))
                        builder.store(builder.call(fma, [_splat(builder, vt, wk), xv, builder.load(accs[k])]), accs[k])
        for k in range(kb):
            dst = _at(builder, O, builder.add(oo_, builder.mul(os_, ir.Constant(i64, k))), vt)
            builder.store(builder.load(accs[k]), dst, align=4)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def dw_tile(typingctx, x, xo, i0, nr, cs, wp, d, do, ds, m, acc, ao, F, RB, KV):
    """acc[ao + t·ds + v] += Σ_{p < m} x[xo + c·cs + i·wp + j + p] · d[do + (p + F − 1)·ds + v]
    for v < KV and the taps t = r·F + j of the nr ≤ RB filter rows r that follow row i0 of
    the first channel ((c, i) = divmod(i0 + r, F)): dW of those taps for KV output channels,
    dout given as (positions, channels) rows of ds numbers, after F − 1 rows of zeros and
    followed by F − 1 more. A block of fewer than RB rows repeats its last row's sums in the
    spare accumulators and does not store them.

    Summed as Σ_q x[row(r) + q] · d[q − j]: one input a row and step, broadcast once and
    multiplied by the F neighbouring rows of dout. (Summed over p, LLVM carries each input
    from one step to the next in registers, which spills the accumulators.)"""
    if not (_literals(F, RB, KV) and _f32_arrays(x, d, acc)):
        return None
    f, rb, kv = F.literal_value, RB.literal_value, KV.literal_value
    sig = types.void(x, xo, i0, nr, cs, wp, d, do, ds, m, acc, ao, F, RB, KV)

    def codegen(context, builder, signature, args):
        xa, xo_, i0_, nr_, cs_, wp_, da, do_, ds_, m_, aa, ao_ = args[:12]
        X = _data(context, builder, signature.args[0], xa)
        D = _data(context, builder, signature.args[6], da)
        A = _data(context, builder, signature.args[10], aa)
        i64, vt = xo_.type, ir.VectorType(_F32, kv)
        fma = _fma(builder, vt)
        last = builder.sub(nr_, ir.Constant(i64, 1))
        rows, ptrs, accs = [], [], []
        for r in range(rb):
            rr = builder.select(builder.icmp_signed("<", ir.Constant(i64, r), nr_), ir.Constant(i64, r), last)
            k = builder.add(i0_, rr)
            c, i = builder.sdiv(k, ir.Constant(i64, f)), builder.srem(k, ir.Constant(i64, f))
            rows.append(_at(builder, X, builder.add(xo_, builder.add(builder.mul(cs_, c), builder.mul(wp_, i)))))
            for j in range(f):
                t = builder.add(builder.mul(rr, ir.Constant(i64, f)), ir.Constant(i64, j))
                ptrs.append(_at(builder, A, builder.add(ao_, builder.mul(ds_, t)), vt))
                accs.append(cgutils.alloca_once_value(builder, builder.load(ptrs[-1], align=4)))
        d0 = _at(builder, D, builder.add(do_, builder.mul(ds_, ir.Constant(i64, f - 1))))
        with cgutils.for_range(builder, builder.add(m_, ir.Constant(i64, f - 1))) as loop:
            q = loop.index
            dvs = [builder.load(_at(builder, d0, builder.mul(builder.sub(q, ir.Constant(i64, j)), ds_), vt), align=4)
                   for j in range(f)]
            for r, row in enumerate(rows):
                xs = _splat(builder, vt, builder.load(_at(builder, row, q)))
                for j in range(f):
                    t = r * f + j
                    builder.store(builder.call(fma, [xs, dvs[j], builder.load(accs[t])]), accs[t])
        for r in range(rb):
            with builder.if_then(builder.icmp_signed("<", ir.Constant(i64, r), nr_)):
                for j in range(f):
                    builder.store(builder.load(accs[r * f + j]), ptrs[r * f + j], align=4)
        return context.get_dummy_value()

    return sig, codegen


@intrinsic
def transpose_tile(typingctx, src, so, sl, dst, do, dl, N):
    """dst[do + u·dl + k] = src[so + k·sl + u] for u, k < N: an N × N block transposed in
    registers (log₂ N rounds of exchanging halves), as dW's tiles want dout."""
    if not (_literals(N) and _f32_arrays(src, dst)):
        return None
    n = N.literal_value
    sig = types.void(src, so, sl, dst, do, dl, N)

    def codegen(context, builder, signature, args):
        sa, so_, sl_, da, do_, dl_ = args[:6]
        S = _data(context, builder, signature.args[0], sa)
        D = _data(context, builder, signature.args[3], da)
        i64, vt = so_.type, ir.VectorType(_F32, n)
        rows = [builder.load(_at(builder, S, builder.add(so_, builder.mul(sl_, ir.Constant(i64, k))), vt), align=4)
                for k in range(n)]
        b = 1
        while b < n:
            low = ir.Constant(ir.VectorType(_I32, n), [x if not x & b else n + x - b for x in range(n)])
            high = ir.Constant(ir.VectorType(_I32, n), [x + b if not x & b else n + x for x in range(n)])
            for i in range(n):
                if not i & b:
                    rows[i], rows[i + b] = (builder.shuffle_vector(rows[i], rows[i + b], low),
                                            builder.shuffle_vector(rows[i], rows[i + b], high))
            b *= 2
        for u in range(n):
            builder.store(rows[u], _at(builder, D, builder.add(do_, builder.mul(dl_, ir.Constant(i64, u))), vt), align=4)
        return context.get_dummy_value()

    return sig, codegen
