"""The command line run in the test's own process (tests/test_cli.py runs it as a user does,
in a new one): a new process costs an interpreter, NumPy, Numba and the kernels' cache."""
import contextlib
import io


def run_here(*args, cwd=None):
    """gradviz ARGS (from the folder ``cwd``) -> (exit code, stdout, stderr), with no
    traceback on stderr."""
    from gradviz.cli import main
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            contextlib.chdir(cwd or "."):
        code = main([str(a) for a in args])
    assert "Traceback" not in err.getvalue()
    return code, out.getvalue(), err.getvalue()
