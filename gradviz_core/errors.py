"""Exceptions that carry a message meant for the user.

Every message names what is wrong and where (file, node, port, parameter).
"""


class GradvizError(Exception):
    """Base class: the message is complete and fit to show to a user."""


class GraphError(GradvizError):
    """A graph edit or a graph run that cannot be done (bad connection, cycle, ...)."""

    def __init__(self, message: str, node: str | None = None, port: str | None = None):
        super().__init__(message)
        self.node = node
        self.port = port


class ShapeError(GraphError):
    """Shapes that do not fit. Raised by ``Brick.infer_shape`` with the arithmetic shown."""


class ParamError(GraphError):
    """A parameter value outside its declared type, range or choices."""


class GraphFileError(GradvizError):
    """A graph, weights or data file that cannot be read."""
