"""The canvas: the graph's nodes, ports and wires as a QGraphicsScene that follows the core's
events, and the view the student drags, wires and steps on. It changes the graph only through
undoable commands (``gradviz.sessions.undo``)."""
