"""The application: ``start`` opens the window (or says why it cannot), ``main_window`` puts the
canvas and the panels together and wires them to the open document's session, ``menus`` is the
menu bar as a table, ``files`` and ``editing`` are the window's file and edit commands,
``safety`` the autosave and crash recovery, ``render`` the headless screenshots."""
