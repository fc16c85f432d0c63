"""gradviz: the desktop app and the command line. The engine lives in ``gradviz_core``."""
from gradviz_core import __version__  # noqa: F401 (one version for both packages: pyproject reads it
