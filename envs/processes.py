"""Which server process holds an instance, and whether that process is gone.

Each instance records the process that created it (``EnvInstance.process``:
host, pid and the process's start time), so that ``manage.py reap``, run
beside a server, can tell the instances of a process that died (marked lost)
from those of one still running (left alone). A pid alone could be reused by
a later process; its start time (Linux ``/proc``) tells them apart.
"""

import os
import socket

_identity = {}


def _start_time(pid):
    """The process's start time since boot, in clock ticks (Linux), '' where unknown, None if no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # the name, in parentheses, may hold spaces
        return fields[19].decode()  # field 22 of proc(5); fields[0] is field 3
    except FileNotFoundError:
        return None if os.path.isdir("/proc/self") else ""
    except (OSError, IndexError):
        return ""


def identity():
    """This process: ``host:pid:start``."""
    pid = os.getpid()
    if pid not in _identity:  # a forked child has its own
        _identity[pid] = f"{socket.gethostname()}:{pid}:{_start_time(pid) or ''}"
    return _identity[pid]


def is_gone(recorded):
    """Whether the process ``recorded`` (an ``identity()``) has ended: True only when
    it ran on this host and no process with its pid and start time runs now.
    Another host's, or an unreadable record: False (not known to be gone)."""
    host, _, rest = (recorded or "").partition(":")
    pid, _, start = rest.partition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    now = _start_time(int(pid))
    if now == "":  # no /proc: whether the pid exists at all
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return True
        except OSError:
            return False
        return False
    return now is None or (bool(start) and now != start)
