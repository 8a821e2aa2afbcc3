"""Run ``monitor run --once`` as a subprocess of a benchmark and measure it: wall time, CPU, peak memory.

``timed_cycle`` runs this file on a settings file: the cycle runs with every ``*.bench.test`` host resolved to
127.0.0.1 (``run_cycle``), so that each synthetic site has a host of its own, with its own per-host limits. The
CPU time is that of the process and its workers.

Two peaks of the memory of the process tree are sampled at the same instants, by a watcher process
(``watch_peak``):
- the sum of RSS: each process's resident pages, counted in full in every process that maps them, so pages
  shared by a process and the workers it forked, or by the shared libraries they all load, count several times
  (at least the process's own peak: its ``VmHWM``);
- the sum of PSS (``/proc/PID/smaps_rollup``): each page divided by the number of processes mapping it, so that
  the sum is what the tree holds in memory. Targets are judged on this one.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

HOST_SUFFIX = ".bench.test"


def tree_pids(pid: int) -> list[int]:
    """Return a process and all its descendants (Linux ``/proc``)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(child) for child in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
        found.append(current)
    return found


def rss_kb(pids: list[int]) -> int:
    """Return the resident memory of these processes together, in KB (those gone count for nothing)."""
    return _summed(pids, "status", "VmRSS:")


def pss_kb(pids: list[int]) -> int:
    """Return the proportional set size of these processes together, in KB: each page shared by several of them
    (or with any other process) counted once in all (those gone count for nothing)."""
    return _summed(pids, "smaps_rollup", "Pss:")


def _summed(pids: list[int], file: str, field: str) -> int:
    """Return the sum over these processes of a field in KB of ``/proc/PID/file``."""
    total = 0
    for pid in pids:
        try:
            text = Path(f"/proc/{pid}/{file}").read_text()
            total += next(int(line.split()[1]) for line in text.splitlines() if line.startswith(field))
        except (OSError, StopIteration, ValueError):
            continue
    return total


class Watch:
    """The peaks of a process tree's memory, sampled by a watcher process until the tree's root exits."""

    def __init__(self, pid: int, every: float, rescan: int) -> None:
        command = [sys.executable, __file__, "--watch", str(pid), str(every), str(rescan)]
        self._watcher = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)

    def result(self) -> tuple[int, int]:
        """Return the peak of the sum of RSS and the peak of the sum of PSS, in KB, once the root has exited."""
        rss, pss = self._watcher.communicate()[0].split()
        return int(rss), int(pss)


def watch_peak(process: subprocess.Popen[str], every: float = 0.02, rescan: int = 25) -> Watch:
    """Sample the memory of ``process``'s tree until it exits, from a process of its own (``watch``), so that the
    sampling takes no turn under this process's lock, which the feed servers of the benchmarks share."""
    return Watch(process.pid, every, rescan)


def watch(pid: int, every: float, rescan: int) -> tuple[int, int]:
    """Return the peak of the sum of RSS and that of the sum of PSS of ``pid``'s tree, in KB, sampled until it
    exits.

    The RSS is read every ``every`` seconds, the PSS (whose reading walks every page table) at every fifth
    sample, right after an RSS reading; the tree is walked again every ``rescan`` samples: walking every thread of
    the cycle for its children 50 times a second cost the machine more than the reading.
    """
    peak, count, pids = [0, 0], 0, [pid]
    while _running(pid):
        if count % rescan == 0:
            pids = tree_pids(pid)
        peak[0] = max(peak[0], rss_kb(pids))
        if count % 5 == 0:
            peak[1] = max(peak[1], pss_kb(pids))
        count += 1
        time.sleep(every)
    return peak[0], peak[1]


def _running(pid: int) -> bool:
    """Return whether a process exists and has not exited (a zombie waiting for its parent has)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def run_cycle(settings: Path) -> int:
    """Run ``monitor run --once`` with ``*.bench.test`` resolved to 127.0.0.1 (the subprocess's entry point)."""
    from monitor import cli
    from monitor.ingest import netguard

    def resolve(host: str, port: int) -> list[netguard.Address]:
        if host.endswith(HOST_SUFFIX):
            return [netguard.Address("127.0.0.1", True)]
        return netguard.system_resolve(host, port)

    netguard.resolve = resolve
    code = cli.main(["--config", str(settings), "run", "--once"], environ={})
    # The high-water mark of this program's memory: ru_maxrss would also count that of the benchmark's process,
    # which this one was forked from before it ran this program.
    print(f"peak_kb {_summed([os.getpid()], 'status', 'VmHWM:')}", file=sys.stderr)
    return code


@dataclass(frozen=True)
class Cost:
    """What one cycle took: wall time, CPU time of its process and workers, the peaks of their RSS summed and of
    their PSS summed (what the tree holds), its own peak RSS."""

    wall: float
    cpu: float
    peak_mb: float
    own_mb: float
    pss_mb: float


def timed_cycle(settings: Path) -> Cost:
    """Run ``monitor run --once`` on ``settings`` in a subprocess; return what it cost."""
    cost, code, errors = timed_command([sys.executable, __file__, str(settings)])
    peaks = [line for line in errors.splitlines() if line.startswith("peak_kb ")]
    if code != 0 or not peaks:
        sys.exit(f"the cycle failed ({code}):\n{errors[-3000:]}")
    own_kb = int(peaks[-1].split()[1])
    return Cost(cost.wall, cost.cpu, max(cost.peak_mb, own_kb / 1024), own_kb / 1024, cost.pss_mb)


def timed_command(command: list[str], env: dict[str, str] | None = None) -> tuple[Cost, int, str]:
    """Run a command in a subprocess; return what it cost (its own peak unknown: the tree's), its exit code and
    what it wrote on stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env) as process:
        peaks = watch_peak(process)
        errors = process.communicate()[1]
    elapsed = time.perf_counter() - started
    # A process waits for its workers, so their CPU time is counted in its own, and so in ours; the watcher, not
    # waited for yet, is not.
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    tree_peak = peaks.result()
    peak_mb, pss_mb = tree_peak[0] / 1024, tree_peak[1] / 1024
    return Cost(elapsed, cpu, peak_mb, peak_mb, pss_mb), process.returncode, errors


if __name__ == "__main__":
    if sys.argv[1] == "--watch":
        print(*watch(int(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])))
        sys.exit(0)
    sys.exit(run_cycle(Path(sys.argv[1])))
