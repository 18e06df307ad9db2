"""What every benchmark script does with the processes it starts: stop one by its PID
only (never by name), and pick a free loopback port."""

import os
import signal
import socket
import subprocess


def stop_proc(p, sig=signal.SIGTERM, wait=30):
    """Stops one process we started, by its PID only: sig, then SIGKILL after wait s."""
    if p is None or p.poll() is not None:
        return
    try:
        os.kill(p.pid, sig)
        p.wait(timeout=wait)
    except subprocess.TimeoutExpired:
        os.kill(p.pid, signal.SIGKILL)
        p.wait()
    except ProcessLookupError:
        pass


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
