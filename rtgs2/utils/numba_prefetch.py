"""``prefetch``: a cache-line prefetch hint inside numba kernels (LLVM's ``llvm.prefetch``).

A kernel that walks rows of a large array in an order the hardware cannot guess (the per-tile
splat lists of the renderer: increasing but sparse indices) waits for each row's cache line;
asking for the rows a few steps ahead hides that wait. A hint only: it never faults, and
results do not depend on it.
"""

from __future__ import annotations

from llvmlite import ir
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic

import rtgs2.utils.numba_target  # noqa: F401 (before any @njit: numba's vector width, see the module)


@intrinsic
def prefetch(typingctx, arr, row, col):
    """Hint that ``arr[row, col]`` (a 2-D array, indices in range) is read soon: its cache line
    is loaded into every cache level (read, high locality)."""
    if not (isinstance(arr, types.Array) and arr.ndim == 2):
        return None
    if not (isinstance(row, types.Integer) and isinstance(col, types.Integer)):
        return None

    def codegen(context, builder, signature, args):
        aryty = signature.args[0]
        ary = context.make_array(aryty)(context, builder, args[0])
        i = context.cast(builder, args[1], signature.args[1], types.intp)
        j = context.cast(builder, args[2], signature.args[2], types.intp)
        ptr = cgutils.get_item_pointer(context, builder, aryty, ary, [i, j], wraparound=False)
        i8p = builder.bitcast(ptr, ir.IntType(8).as_pointer())
        i32 = ir.IntType(32)
        fnty = ir.FunctionType(ir.VoidType(), [ir.IntType(8).as_pointer(), i32, i32, i32])
        fn = cgutils.get_or_insert_function(builder.module, fnty, "llvm.prefetch.p0")
        builder.call(fn, [i8p, i32(0), i32(3), i32(1)])  # read, keep in all caches, data cache
        return context.get_dummy_value()

    return types.void(arr, row, col), codegen
