"""The panels around the canvas: each paints what a session holds and sends the student's
edits on as signals or undoable commands. A panel knows no threads and no engine run: what it
draws comes from the sessions (``gradviz.sessions``), how it looks from ``gradviz.look``. Each
session-bound panel has ``bind(session)``: a new document binds a new session, and the panel
starts from what that one holds."""
