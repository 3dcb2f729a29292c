"""What ``make test`` needs beyond Python and make, in one place: Debian's ``chromium``
(tests/browser drives it headless) and ``kcat`` (tests/e2e/test_ops_kcat.py reads the
topics with it); and, while ``.venv`` (the argument) is still to be made, the ``venv``
module's pip (Debian's python3 comes without it: ``python3.X-venv``). ``make test`` runs
this first.

All there: exit 0, silently. Missing, as root on Debian: installs them with apt-get, then
exit 0. Missing otherwise: exit 1 at once, naming the one command that installs them.
Standard library only: it runs with the system's python3, before .venv exists.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

# command on PATH -> the Debian package that provides it
NEEDED = {"chromium": "chromium", "kcat": "kcat"}


def missing_packages(which: dict[str, str | None], *, venv_needs_pip: bool = False) -> list[str]:
    """The packages to install, given where each needed command was found (None: not) and
    whether a venv is still to be made by a Python without ``ensurepip``."""
    packages = [NEEDED[command] for command in NEEDED if which.get(command) is None]
    if venv_needs_pip:
        packages.append(f"python3.{sys.version_info.minor}-venv")
    return packages


def install_command(packages: list[str], *, as_root: bool) -> str:
    """The one command that installs ``packages`` on Debian (the same as .ci/run did)."""
    apt = f"apt-get update && apt-get install -y {' '.join(packages)}"
    return apt if as_root else f"sudo sh -c '{apt}'"


def _found() -> dict[str, str | None]:
    return {command: shutil.which(command) for command in NEEDED}


def main(venv: Path) -> int:
    venv_needs_pip = (
        not (venv / "bin" / "python").exists() and importlib.util.find_spec("ensurepip") is None
    )
    packages = missing_packages(_found(), venv_needs_pip=venv_needs_pip)
    if not packages:
        return 0
    names = " and ".join(packages)
    as_root = os.geteuid() == 0
    if not as_root or shutil.which("apt-get") is None:
        how = (
            f"    {install_command(packages, as_root=as_root)}\n\n"
            "(that is for Debian and Ubuntu; elsewhere, your package manager's)"
            if not as_root
            else "    your package manager (no apt-get here)"
        )
        print(
            f"make test needs {names}, not installed here. Install them with:\n\n{how}",
            file=sys.stderr,
        )
        return 1
    print(f"make test needs {names}: installing them with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *packages]):
        if subprocess.run(step, env=env, check=False).returncode != 0:
            print(f"failed: {' '.join(step)}", file=sys.stderr)
            return 1
    still = missing_packages(_found())  # a venv package shows when .venv is made
    if still:
        print(f"installed, yet not on PATH: {' and '.join(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".venv")))
