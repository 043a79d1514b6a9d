"""A small, nearly full disk for tests of what surge does when writing fails (ENOSPC).

Two ways to get one, both a real 1 MB tmpfs that fills up:

* in this process, :func:`mount_tmpfs` and :func:`unmount` (root only: mounting needs
  CAP_SYS_ADMIN in the mount namespace the test runs in);
* for a command, :func:`run_on_small_disk`: the command runs in a private mount namespace
  (``unshare -m`` as root, ``unshare -rm``, a user namespace, otherwise) where this module, run
  as a script, mounts the tmpfs, fills it, runs the command, and copies ``DISK/out`` to
  ``KEEP/out`` for the test to read. The mount vanishes with the namespace, so nothing leaks
  even if the test is killed.

The script: ``python small_disk.py DISK KEEP LEAVE_PAGES -- CMD...``; its exit code is CMD's
(97 if the tmpfs could not be mounted).
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

SIZE = "1m"
MOUNT_FAILED = 97


def mount_tmpfs(disk: Path, size: str = SIZE) -> str | None:
    """Mount a tmpfs of ``size`` at ``disk`` (made if missing); None, or mount's complaint."""
    disk.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)],
                          capture_output=True, text=True, timeout=10)
    return None if proc.returncode == 0 else (proc.stderr.strip() or f"mount exited {proc.returncode}")


def unmount(disk: Path) -> None:
    if subprocess.run(["umount", str(disk)], capture_output=True, timeout=10).returncode:
        subprocess.run(["umount", "-l", str(disk)], capture_output=True, timeout=10)  # busy: detach it


def fill(disk: Path, leave_pages: int = 0) -> None:
    """Fill ``disk`` with one file until only ``leave_pages`` blocks (tmpfs: 4 KiB pages) are free."""
    st = os.statvfs(disk)
    spare = (st.f_bavail - leave_pages) * st.f_frsize
    with open(disk / "fill", "ab") as f:
        f.write(b"\0" * max(0, spare))
    assert os.statvfs(disk).f_bavail == leave_pages, "the disk did not fill as planned"


@functools.cache
def namespace_prefix() -> tuple[tuple[str, ...] | None, str]:
    """The command prefix for a private mount namespace that can mount a tmpfs, or None and why not."""
    if shutil.which("unshare") is None:
        return None, "no unshare(1) on PATH"
    complaints = []
    with tempfile.TemporaryDirectory() as probe:
        for prefix in (("unshare", "-m"), ("unshare", "-rm")):
            proc = subprocess.run([*prefix, "mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", probe],
                                  capture_output=True, text=True, timeout=10)
            if proc.returncode == 0:
                return prefix, ""
            complaints.append(f"{' '.join(prefix)}: {proc.stderr.strip() or proc.returncode}")
    return None, "cannot mount a tmpfs in a private mount namespace (" + "; ".join(complaints) + ")"


def run_on_small_disk(cmd: list[str], disk: Path, keep: Path, leave_pages: int, *, cwd: Path,
                      env: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess:
    """Run ``cmd`` with a 1 MB tmpfs at ``disk`` left with ``leave_pages`` free pages; ``disk/out`` ends up in ``keep/out``."""
    prefix, why = namespace_prefix()
    if prefix is None:
        raise RuntimeError(why)
    disk.mkdir(parents=True, exist_ok=True)
    return subprocess.run([*prefix, sys.executable, __file__, str(disk), str(keep), str(leave_pages), "--", *cmd],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout_s)


def main(argv: list[str]) -> int:
    disk, keep, leave_pages = Path(argv[0]), Path(argv[1]), int(argv[2])
    cmd = argv[4:]  # argv[3] is "--"
    complaint = mount_tmpfs(disk)
    if complaint is not None:
        print(f"small_disk: {complaint}", file=sys.stderr)
        return MOUNT_FAILED
    fill(disk, leave_pages)
    code = subprocess.run(cmd).returncode
    if (disk / "out").exists():
        shutil.copytree(disk / "out", keep / "out", symlinks=True)
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
