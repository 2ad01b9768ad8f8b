"""Worker processes of `hub serve --workers N` never outlive the process that started them.

uvicorn's supervisor starts the workers; if it is killed with SIGKILL it cannot stop them,
and they would go on serving the port (a restart then fails with "address already in
use"). Each worker therefore asks the kernel for SIGTERM when its parent dies (Linux
``prctl(PR_SET_PDEATHSIG)``), and, as a second guard that also works where prctl does
not (and when the parent died before the call), a daemon thread looks at the parent's
pid twice a second and terminates the worker once it has changed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import signal
import sys
import threading

__all__ = ["exit_with_parent"]

PR_SET_PDEATHSIG = 1
WATCH_SECONDS = 0.5

log = logging.getLogger("hub")


def _ask_kernel(sig: signal.Signals) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _terminate_self() -> None:
    log.warning("the parent process is gone; this worker stops")
    os.kill(os.getpid(), signal.SIGTERM)
    threading.Event().wait(10)  # a graceful stop gets ten seconds, then the worker exits
    os._exit(1)


def exit_with_parent(parent: int | None = None) -> None:
    """Make this process stop (SIGTERM, as uvicorn's own shutdown) when ``parent`` (by
    default the current parent) exits."""
    expected = os.getppid() if parent is None else parent
    _ask_kernel(signal.SIGTERM)
    if os.getppid() != expected:  # the parent died before the kernel was asked
        _terminate_self()
        return

    def watch() -> None:
        while os.getppid() == expected:
            threading.Event().wait(WATCH_SECONDS)
        _terminate_self()

    threading.Thread(target=watch, name="hub-parent-watch", daemon=True).start()
