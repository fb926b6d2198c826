"""wrk runs against gunicorn, alternating with the bare endpoint: ratio, p99, CPU per request, peak RSS."""
from __future__ import annotations

import os
import re
import statistics
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from tests.benchmarks.stack import children

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class Run:
    rps: float
    requests: int
    p99_ms: float
    cpu_ms: float  # gunicorn workers' user + system time during the run
    non_2xx_3xx: int = 0

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_ms / self.requests if self.requests else float("nan")


@dataclass
class Target:
    label: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    runs: list[Run] = field(default_factory=list)
    bare: list[Run] = field(default_factory=list)


def cpu_ms(master_pid: int) -> float:
    total = 0
    for pid in children(master_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total * TICK_MS


def peak_rss_mb(master_pid: int) -> list[float]:
    peaks = []
    for pid in children(master_pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        found = re.search(r"VmHWM:\s+(\d+) kB", status)
        if found:
            peaks.append(int(found.group(1)) / 1024)
    return peaks


def _ms(value: str, unit: str) -> float:
    return float(value) * UNITS_MS[unit]


def wrk(wrk_path: str, url: str, headers: dict[str, str], seconds: float, master_pid: int,
        connections: int = 16) -> Run:
    args = [wrk_path, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    before = cpu_ms(master_pid)
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    used = cpu_ms(master_pid) - before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Run(rps=rps, requests=total, p99_ms=_ms(*p99.groups()) if p99 else float("nan"), cpu_ms=used,
               non_2xx_3xx=int(errors.group(1)) if errors else 0)


def alternate(wrk_path: str, target: Target, bare_url: str, bare_pid: int, app_pid: int, *, rounds: int,
              seconds: float) -> None:
    """bare, page, bare, page… so drift on a shared machine hits both sides alike."""
    for _ in range(rounds):
        target.bare.append(wrk(wrk_path, bare_url, {}, seconds, bare_pid))
        target.runs.append(wrk(wrk_path, target.url, target.headers, seconds, app_pid))


def summary(target: Target) -> str:
    ratios = [run.rps / bare.rps for run, bare in zip(target.runs, target.bare, strict=True) if bare.rps]
    p99 = statistics.median(r.p99_ms for r in target.runs)
    cpu = statistics.median(r.cpu_per_request for r in target.runs)
    bare_cpu = statistics.median(r.cpu_per_request for r in target.bare)
    rps = statistics.median(r.rps for r in target.runs)
    bare_rps = statistics.median(r.rps for r in target.bare)
    errors = sum(r.non_2xx_3xx for r in target.runs)
    line = (f"  {target.label:<50} ratio {statistics.median(ratios):5.3f} ({min(ratios):.3f}–{max(ratios):.3f}, "
            f"n={len(ratios)})  p99 {p99:6.1f} ms  CPU {cpu:5.2f} ms/req (bare {bare_cpu:4.2f})  "
            f"{rps:6.0f} req/s (bare {bare_rps:.0f})")
    return line + (f"  !! {errors} non-2xx/3xx" if errors else "")
