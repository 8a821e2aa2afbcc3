"""The deploy files read the way their runtimes read them, and their commands started the way those runtimes would.

``read_unit`` reads a systemd unit, ``read_dockerfile`` the last stage of a Dockerfile. ``Layout`` is a temporary
folder standing for ``/``: an absolute path the files name (``/etc/monitor``, ``/var/lib/monitor``) is taken
inside it, and the installed ``monitor`` command is linked where the files expect it. ``confined`` wraps a command
the way the runtime would run it: the whole layout read-only but for the folders the files make writable (in a
mount namespace of its own, where ``unshare`` may make one), no new privileges, no memory both writable and
executable (where the kernel has ``PR_SET_MDWE``) and the unit's umask.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

Unit = dict[str, dict[str, list[str]]]

# systemd's PATH for services; no other variable of the manager's environment reaches them.
SYSTEMD_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

# Run as the last step before the command: the umask, no_new_privs and MDWE are kept across execve.
_LAUNCH = """
import ctypes, errno, os, sys
umask, no_new_privs, deny_write_execute, *command = sys.argv[1:]
libc = ctypes.CDLL(None, use_errno=True)
os.umask(int(umask, 8))
if no_new_privs == "1" and libc.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
    sys.exit("no_new_privs: " + os.strerror(ctypes.get_errno()))
if deny_write_execute == "1" and libc.prctl(65, 1, 0, 0, 0) != 0 and ctypes.get_errno() != errno.EINVAL:
    sys.exit("PR_SET_MDWE: " + os.strerror(ctypes.get_errno()))  # EINVAL: a kernel older than 6.3
os.execvp(command[0], command)
"""

# Binds each writable folder on itself, then the layout on itself read-only: the writable binds come along.
_MOUNT = """
root=$1; shift
while [ "$1" != -- ]; do mount --bind "$1" "$1" || exit 97; shift; done; shift
mount --rbind "$root" "$root" && mount -o remount,bind,ro "$root" || exit 97
exec "$@"
"""


def read_unit(path: Path) -> Unit:
    """Return a unit's sections, each key with its values in order (an empty assignment empties the list)."""
    sections: Unit = {}
    section: dict[str, list[str]] = {}
    text = path.read_text(encoding="utf-8").replace("\\\n", " ")
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = sections.setdefault(line[1:-1], {})
            continue
        key, equals, value = line.partition("=")
        assert equals, f"{path}: not a key=value line: {line!r}"
        values = section.setdefault(key.strip(), [])
        if value.strip():
            values.append(value.strip())
        else:
            values.clear()
    return sections


def exec_command(line: str) -> list[str]:
    """Return the arguments of an ``Exec*=`` line, its prefixes (``-``, ``@``, ``+``, ``!``, ``:``) taken off."""
    return shlex.split(line.lstrip("-@+!:"))


def assignments(values: Sequence[str]) -> dict[str, str]:
    """Return the variables of ``Environment=`` values or of an ``ENV`` line (``NAME=value``, quoted or not)."""
    found: dict[str, str] = {}
    for value in values:
        for word in shlex.split(value):
            name, _, content = word.partition("=")
            found[name] = content
    return found


@dataclass(frozen=True)
class Instruction:
    """One instruction of a Dockerfile: its keyword in capitals and the rest of it, continuation lines joined."""

    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """Return the arguments of an instruction written in the exec (JSON) form."""
        words = json.loads(self.arguments)
        assert isinstance(words, list) and all(isinstance(word, str) for word in words), self.arguments
        return words


def read_dockerfile(path: Path) -> list[list[Instruction]]:
    """Return a Dockerfile's stages, each its instructions in order (``FROM`` first)."""
    stages: list[list[Instruction]] = []
    logical = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        if raw.lstrip().startswith("#"):
            continue
        logical += raw.rstrip()
        if logical.endswith("\\"):
            logical = logical[:-1] + " "
            continue
        keyword, _, arguments = logical.strip().partition(" ")
        logical = ""
        if not keyword:
            continue
        instruction = Instruction(keyword.upper(), " ".join(arguments.split()))
        if instruction.keyword == "FROM":
            stages.append([])
        stages[-1].append(instruction)
    return stages


@dataclass(frozen=True)
class Layout:
    """A temporary folder that stands for ``/`` to the commands of a deploy file."""

    root: Path

    def path(self, absolute: str) -> Path:
        """Return where the absolute path the deploy file names lies in the layout."""
        assert absolute.startswith("/"), absolute
        return self.root / absolute.lstrip("/")

    def value(self, text: str) -> str:
        """Return an environment value with an absolute path taken inside the layout, other values as they are."""
        return str(self.path(text)) if text.startswith("/") else text

    def install_command(self, where: str) -> None:
        """Link the installed ``monitor`` command at ``where``, an absolute path of the deploy file."""
        link = self.path(where)
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(installed_command())

    def copy(self, source: Path, where: str) -> None:
        """Copy a file or folder of the working copy to ``where``, as the install steps or ``COPY`` do."""
        target = self.path(where)
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)


def installed_command() -> Path:
    """Return the ``monitor`` command installed beside the running Python (``pip install -e .`` puts it there)."""
    return Path(sys.executable).parent / "monitor"


@cache
def mount_namespace() -> list[str]:
    """Return the ``unshare`` command that gives a mount namespace where binds are allowed, or [] if none does."""
    if shutil.which("unshare") is None or shutil.which("mount") is None:
        return []
    command = ["unshare", "--mount", "--propagation", "private"]
    if os.geteuid() != 0:
        command.insert(1, "--map-root-user")
    try:
        probe = subprocess.run([*command, "true"], capture_output=True, timeout=30)
    except OSError:
        return []
    return command if probe.returncode == 0 else []


def confined(
    command: Sequence[str],
    layout: Layout,
    writable: Sequence[Path],
    umask: str = "0022",
    no_new_privileges: bool = True,
    deny_write_execute: bool = False,
) -> list[str]:
    """Return ``command`` wrapped to run in the layout made read-only but for ``writable``, as the runtime would."""
    launch = [
        sys.executable,
        "-c",
        _LAUNCH,
        umask,
        "1" if no_new_privileges else "0",
        "1" if deny_write_execute else "0",
        *command,
    ]
    namespace = mount_namespace()
    if not namespace:
        return launch
    return [*namespace, "sh", "-c", _MOUNT, "sh", str(layout.root), *map(str, writable), "--", *launch]


def read_only_enforced(layout: Layout, writable: Sequence[Path]) -> bool:
    """Return whether ``confined`` makes the layout read-only; without a namespace, make it so for non-root users."""
    if mount_namespace():
        return True
    for folder in [layout.root, *layout.root.rglob("*")]:
        inside = any(folder == place or place in folder.parents for place in writable)
        if folder.is_dir() and not folder.is_symlink() and not inside:
            folder.chmod(0o555)
    return os.geteuid() != 0
