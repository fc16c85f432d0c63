"""The GUI's sessions: the window's state and work, without a widget. One ``DocumentSession``
per open document holds its stepper (``stepping``), its training runs (``training``), its
playground race (``racing``) and its lesson's progress (``lessons``); the ``bridge`` carries the
engine's events onto the window's thread; ``compute`` and ``worker`` run jobs and the kernels'
warm-up off it; ``views`` computes what the dashboard draws; ``undo`` turns core commands into
Qt's undo stack; ``collect`` keeps the garbage collector on the GUI thread. This is the one
GUI floor that reaches the engine's runs and teaching helpers; the panels above it only paint.
"""
