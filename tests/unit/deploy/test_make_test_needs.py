"""``make test`` installs what its tests need beyond Python (deploy/make_test_needs.py):
nothing when all is there; as root, Debian's chromium and kcat with apt-get; otherwise it
stops at once naming the one command. The machine's own chromium and kcat are hidden with
a PATH of a scratch directory (never uninstalled); apt-get there is a fake that records
what it is asked."""

from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).parents[3] / "deploy" / "make_test_needs.py"
SYSTEM_PYTHON = Path("/usr/bin/python3")  # runnable by an unprivileged user
NOBODY = "65534"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_test_needs", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


needs = _load()


def test_only_what_is_missing_is_installed() -> None:
    assert needs.missing_packages({"chromium": "/usr/bin/chromium", "kcat": "/usr/bin/kcat"}) == []
    assert needs.missing_packages({"chromium": None, "kcat": "/usr/bin/kcat"}) == ["chromium"]
    assert needs.missing_packages({}) == ["chromium", "kcat"]
    minor = sys.version_info.minor
    assert needs.missing_packages({}, venv_needs_pip=True)[-1] == f"python3.{minor}-venv"


def test_the_command_to_run_is_one_line() -> None:
    as_user = needs.install_command(["chromium", "kcat"], as_root=False)
    assert as_user == "sudo sh -c 'apt-get update && apt-get install -y chromium kcat'"
    assert needs.install_command(["kcat"], as_root=True) == (
        "apt-get update && apt-get install -y kcat"
    )


@pytest.fixture
def bare_path() -> Iterator[Path]:
    """A directory every user may read, to be the whole PATH: no chromium, no kcat."""
    directory = Path(tempfile.mkdtemp(prefix="make-test-needs-"))
    directory.chmod(0o755)
    try:
        yield directory
    finally:
        shutil.rmtree(directory)


def _executable(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def _fake_apt_get(directory: Path) -> Path:
    """Records its arguments; ``install`` puts the packages' commands on the PATH."""
    calls = directory / "calls"
    _executable(
        directory / "apt-get",
        f"#!{sys.executable}\n"
        "import sys, pathlib\n"
        f"d = pathlib.Path({str(directory)!r})\n"
        f"with open({str(calls)!r}, 'a') as f: f.write(' '.join(sys.argv[1:]) + '\\n')\n"
        "if sys.argv[1] == 'install':\n"
        "    for name in sys.argv[2:]:\n"
        "        if not name.startswith('-'):\n"
        "            (d / name).write_text('#!/bin/sh\\n'); (d / name).chmod(0o755)\n",
    )
    return calls


def _run(
    path: Path, *prefix: str, python: str = sys.executable
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, python, str(SCRIPT), str(path)],  # ``path`` stands in for an existing .venv
        env={**os.environ, "PATH": str(path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_nothing_missing_says_nothing(bare_path: Path) -> None:
    (bare_path / "bin").mkdir()
    (bare_path / "bin" / "python").touch()
    for command in ("chromium", "kcat"):
        _executable(bare_path / command, "#!/bin/sh\n")
    done = _run(bare_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


@pytest.mark.skipif(os.geteuid() != 0, reason="the root branch: run as root (CI is)")
def test_as_root_the_missing_ones_are_installed_with_apt_get(bare_path: Path) -> None:
    (bare_path / "bin").mkdir()
    (bare_path / "bin" / "python").touch()
    _executable(bare_path / "kcat", "#!/bin/sh\n")  # only chromium is missing
    calls = _fake_apt_get(bare_path)
    done = _run(bare_path)
    assert done.returncode == 0, done.stderr
    assert "installing them with apt-get" in done.stdout
    assert calls.read_text().splitlines() == ["update -qq", "install -y -qq chromium"]


def test_not_root_it_stops_at_once_with_the_command_to_run(bare_path: Path) -> None:
    calls = _fake_apt_get(bare_path)
    if os.geteuid() == 0:  # become nobody for this run
        if not SYSTEM_PYTHON.exists() or shutil.which("setpriv") is None:
            pytest.skip("needs /usr/bin/python3 and setpriv to run as an unprivileged user")
        setpriv = shutil.which("setpriv")
        assert setpriv is not None
        prefix = (setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups")
        done = _run(bare_path, *prefix, python=str(SYSTEM_PYTHON))
    else:
        done = _run(bare_path)
    assert done.returncode == 1
    assert "make test needs chromium and kcat" in done.stderr
    assert "sudo sh -c 'apt-get update && apt-get install -y chromium kcat" in done.stderr
    assert not calls.exists()  # nothing was attempted
