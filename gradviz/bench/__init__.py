"""Measurements of the window, run by ``gradviz bench --ui`` and ``--canvas``, never by the app
itself: ``ui`` times the dashboard while a net trains, ``canvas`` a step's redraw on big graphs."""
