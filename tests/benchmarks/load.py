"""wrk runs against gunicorn, alternating with the bare endpoint: ratio, p99, CPU per request, peak RSS."""
from __future__ import annotations

import os
import re
import statistics
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from tests.benchmarks.stack import children

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
# As a browser polls: each connection's thread sends If-None-Match with the last ETag it was answered, so a
# version change costs one 200 and the next polls are 304 again. Counts the 304s.
CONDITIONAL_LUA = """
threads = {}
setup = function(thread) table.insert(threads, thread) end
init = function(args) etag = args[1]; answered = 0; not_modified = 0 end
request = function()
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  if etag then headers["If-None-Match"] = etag end
  return wrk.format(nil, nil, headers)
end
response = function(status, headers, body)
  answered = answered + 1
  if status == 304 then not_modified = not_modified + 1 end
  local tag = headers["ETag"] or headers["Etag"] or headers["etag"]
  if tag then etag = tag end
end
done = function(summary, latency, requests)
  local n, m = 0, 0
  for _, thread in ipairs(threads) do n = n + thread:get("answered"); m = m + thread:get("not_modified") end
  io.write(string.format("NOT_MODIFIED %d %d\\n", m, n))
end
"""
UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


@dataclass
class Run:
    rps: float
    requests: int
    p99_ms: float
    cpu_ms: float  # gunicorn workers' user + system time during the run
    non_2xx_3xx: int = 0
    not_modified_share: float | None = None  # conditional runs: share of 304 answers

    @property
    def cpu_per_request(self) -> float:
        return self.cpu_ms / self.requests if self.requests else float("nan")


@dataclass
class Target:
    label: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    etag: str | None = None  # set: poll as a browser does, with If-None-Match from the last answer
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
        connections: int = 16, etag: str | None = None) -> Run:
    args = [wrk_path, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        args += ["-H", f"{name}: {value}"]
    script = None
    if etag is not None:
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
            script.write(CONDITIONAL_LUA)
        args += ["-s", script.name]
    before = cpu_ms(master_pid)
    try:
        out = subprocess.run(args + [url] + (["--", etag] if etag is not None else []), capture_output=True, text=True,
                             check=True).stdout
    finally:
        if script is not None:
            os.unlink(script.name)
    used = cpu_ms(master_pid) - before
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s|m)\b", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    conditional = re.search(r"NOT_MODIFIED (\d+) (\d+)", out)
    share = int(conditional.group(1)) / max(1, int(conditional.group(2))) if conditional else None
    return Run(rps=rps, requests=total, p99_ms=_ms(*p99.groups()) if p99 else float("nan"), cpu_ms=used,
               non_2xx_3xx=int(errors.group(1)) if errors else 0, not_modified_share=share)


def alternate(wrk_path: str, target: Target, bare_url: str, bare_pid: int, app_pid: int, *, rounds: int,
              seconds: float) -> None:
    """bare, page, bare, page… so drift on a shared machine hits both sides alike."""
    for _ in range(rounds):
        target.bare.append(wrk(wrk_path, bare_url, {}, seconds, bare_pid))
        target.runs.append(wrk(wrk_path, target.url, target.headers, seconds, app_pid, etag=target.etag))


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
    shares = [r.not_modified_share for r in target.runs if r.not_modified_share is not None]
    if shares:
        line += f"  304: {statistics.median(shares):.0%}"
    return line + (f"  !! {errors} non-2xx/3xx" if errors else "")
