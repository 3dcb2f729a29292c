"""The load generator the HTTP benches drive with: wrk (C, one event loop per thread), so
that the client is never what is measured. Installed here when missing.

Only wrk: its Lua script gives every request a body of its own (a new email each, so
every POST registers a new lead) and, with a clock from LuaJIT's FFI, paces a fixed rate.
hey sends one body for all its requests (every POST after the first would be a repeat
touch of the same lead), and wrk2 is not packaged by Debian.
"""

from __future__ import annotations

import os
import shutil
import subprocess

APT_INSTALL = "apt-get update -qq && apt-get install -y -qq wrk"


def require_wrk() -> str:
    """The path of ``wrk``; installed with apt-get first when missing and we are root,
    otherwise SystemExit with the one command to run."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0:
        raise SystemExit(f"wrk is missing; install it with:\n  sudo sh -c '{APT_INSTALL}'")
    print(f"wrk is missing; installing it: {APT_INSTALL}", flush=True)
    system_path = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin:/usr/bin:/sbin:/bin"])
    subprocess.run(
        ["/bin/sh", "-c", APT_INSTALL], check=True, env={**os.environ, "PATH": system_path}
    )
    found = shutil.which("wrk")
    if not found:
        raise SystemExit(
            "apt-get installed wrk but it is not on PATH "
            f"(PATH={os.environ.get('PATH', '')}); add /usr/bin to PATH"
        )
    return found
