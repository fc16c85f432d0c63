"""Every brick family; importing this package registers them all."""
from gradviz_core.bricks import (  # noqa: F401
    data, ops, dense, conv, pool, reshape, dropout, norm, activations, losses, regularizers, merge,
)
