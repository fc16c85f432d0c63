"""The Numba settings every fast kernel shares.

Fast-math is limited to reassociation and contraction: NaN and inf still propagate, so
the divergence guard still sees them. Small arrays take serial kernels: waking threads
would cost more than the work.
"""
from numba import njit

FM = {"reassoc", "contract", "arcp", "nsz"}
SMALL = 1 << 15  # elements: below this, serial kernels


def _jit(parallel=False):
    return njit(parallel=parallel, fastmath=FM, cache=True, nogil=True)
