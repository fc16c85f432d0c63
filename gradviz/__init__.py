"""gradviz: the desktop app and the command line. The engine lives in ``gradviz_core``."""
__version__ = "0.1.0"
