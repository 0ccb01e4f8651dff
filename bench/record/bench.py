"""bench/record: what recording costs the target, in one run.

usage: bench.py GOINSPECT TARGET OUTDIR

TARGET is tests/programs/rec_hot.c built with gortcc: three goroutines that
work 60/30/10 % of the time and print their rounds of work with the
process's CPU time ("WORK N NS" every 100 ms).  The work rate is rounds per
CPU second: what a recorder makes the target spend on its behalf (the
kernel's stack copies, the stops) lowers it, the other loads of a shared
machine hardly do.  For each rate (RATES, default "100 1000"), each recorder runs
SECONDS_EACH (default 5) seconds on the same process:
  goinspect   goinspect record (perf_event_open, the default)
  perf        perf record --call-graph dwarf -e task-clock at the same period
  stop-loop   goinspect record --mode ptrace: a ptrace stop per sample, py-spy's
              way of sampling
and the target's own work rate is measured over the same seconds, against
the mean of the runs with no recorder before and after it.  Printed per run:
the slowdown, the samples achieved against HZ x the target's CPU seconds
while it recorded (the CPUs the target kept busy, from /proc/PID/stat, times
the recording's own length), the recorder's own CPU per sample (user +
system, of the recorder and its children: perf's `sleep` is nothing), the
same for goinspect less its fixed cost (a recording of 10 ms: opening the
process and its binaries, libc's debug info included), and the hot
functions' shares by goinspect and by perf recording the same seconds.
"""
import json
import os
import re
import subprocess
import sys
import threading
import time

GI, TARGET, OUT = sys.argv[1:4]
RATES = [int(x) for x in os.environ.get("RATES", "100 1000").split()]
SECONDS = float(os.environ.get("SECONDS_EACH", "5"))
TICK = os.sysconf("SC_CLK_TCK")


class Target:
    def __init__(self):
        self.p = subprocess.Popen([TARGET], stdout=subprocess.PIPE, text=True)
        self.work = []          # (process CPU ns, rounds)
        self.lock = threading.Lock()
        threading.Thread(target=self.read, daemon=True).start()
        while not self.work:
            time.sleep(0.05)

    def read(self):
        for line in self.p.stdout:
            if line.startswith("WORK "):
                _, n, ns = line.split()
                with self.lock:
                    self.work.append((int(ns), int(n)))

    def rounds_at(self):
        with self.lock:
            return self.work[-1]

    def cpu_s(self):
        with open(f"/proc/{self.p.pid}/stat") as f:
            v = f.read().rsplit(")", 1)[1].split()
        return (int(v[11]) + int(v[12])) / TICK

    def stop(self):
        self.p.kill()
        self.p.wait()


def rate_over(t, run):
    """The target's rounds per second while run() runs, the CPUs it kept
    busy meanwhile (CPU seconds per second), and run's result."""
    time.sleep(0.25)
    t0, w0 = t.rounds_at()
    c0, m0 = t.cpu_s(), time.monotonic()
    res = run()
    c1, m1 = t.cpu_s(), time.monotonic()
    time.sleep(0.15)
    t1, w1 = t.rounds_at()
    return (w1 - w0) / ((t1 - t0) / 1e9), (c1 - c0) / (m1 - m0), res


def timed(argv):
    """Runs argv; returns (its stderr, its CPU seconds: user + system)."""
    before = os.times()
    r = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    after = os.times()
    if r.returncode != 0:
        sys.exit(f"{argv[0]} failed: {r.stderr[-2000:]}")
    return r.stderr, (after.children_user - before.children_user +
                      after.children_system - before.children_system)


def idle(seconds):
    return lambda: time.sleep(seconds)


def goinspect(pid, hz, mode, out):
    def run():
        err, cpu = timed([GI, "record", str(pid), "-d", str(SECONDS), "-r", str(hz),
                          "--mode", mode, "-f", "json", "-o", out])
        with open(out) as f:
            doc = json.load(f)
        return doc["samples"], cpu, doc, doc["duration_ns"] / 1e9
    return run


def perf(pid, hz, data):
    def run():
        _, cpu = timed(["perf", "record", "-q", "--call-graph", "dwarf", "-e", "task-clock",
                        "-c", str(10**9 // hz), "-p", str(pid), "-o", data, "--", "sleep",
                        str(SECONDS)])
        r = subprocess.run(["perf", "report", "-i", data, "--stdio", "--no-children", "-n",
                            "--sort", "symbol", "-g", "none"], capture_output=True, text=True,
                           timeout=600)
        shares, n = {}, 0
        for line in r.stdout.splitlines():
            m = re.match(r"\s*([\d.]+)%\s+(\d+)\s+\[(.)\]\s+(\S+)", line)
            if m:
                n += int(m.group(2))
                if m.group(3) == ".":
                    shares[m.group(4)] = shares.get(m.group(4), 0) + float(m.group(1))
        return n, cpu, shares, SECONDS
    return run


HOT = ("spin_a", "worker_b", "spin_c")


def our_shares(doc):
    """Shares by the function whose code holds the innermost pc (perf's view)."""
    count = {}
    for st in doc["stacks"]:
        fr = [f for f in st["frames"] if not f["inlined"]]
        if fr:
            count[fr[0]["function"]] = count.get(fr[0]["function"], 0) + st["samples"]
    total = sum(count.values()) or 1
    return {k: 100.0 * v / total for k, v in count.items()}


def hot(shares):
    total = sum(shares.get(h, 0) for h in HOT) or 1
    return {h: 100.0 * shares.get(h, 0) / total for h in HOT}


def fixed_cost(pid, hz):
    """goinspect's CPU seconds for a recording of almost no samples: opening
    the process and its binaries (libc's debug info), writing the file."""
    _, cpu = timed([GI, "record", str(pid), "-d", "0.01", "-r", str(hz), "-f", "json", "-o",
                    f"{OUT}/fixed.json"])
    return cpu


def both_at_once(pid, hz):
    """goinspect's and perf's shares of the hot functions over the same
    seconds (their own runs are apart: the program's shares vary between)."""
    res = {}
    th = threading.Thread(target=lambda: res.update(p=perf(pid, hz, f"{OUT}/perf2.data")()))
    th.start()
    doc = goinspect(pid, hz, "perf", f"{OUT}/gi2.json")()[2]
    th.join()
    return hot(our_shares(doc)), hot(res["p"][2])


def main():
    os.makedirs(OUT, exist_ok=True)
    t = Target()
    rows = []
    try:
        for hz in RATES:
            base0, _, _ = rate_over(t, idle(SECONDS))
            runs = [("goinspect", goinspect(t.p.pid, hz, "perf", f"{OUT}/gi.json")),
                    ("perf", perf(t.p.pid, hz, f"{OUT}/perf.data")),
                    ("stop-loop", goinspect(t.p.pid, hz, "ptrace", f"{OUT}/pt.json"))]
            got = {}
            for name, run in runs:
                rate, busy, (n, own_cpu, extra, secs) = rate_over(t, run)
                got[name] = (rate, busy * secs, n, own_cpu, extra)
            base1, _, _ = rate_over(t, idle(SECONDS))
            base = (base0 + base1) / 2
            fixed = fixed_cost(t.p.pid, hz)
            for name, (rate, cpu, n, own_cpu, extra) in got.items():
                steady = own_cpu - fixed if name != "perf" else None
                rows.append((name, hz, 100.0 * (base - rate) / base, 100.0 * n / (hz * cpu),
                             1e6 * own_cpu / max(n, 1),
                             None if steady is None else 1e6 * max(steady, 0) / max(n, 1)))
            rows.append(("idle", hz, 100.0 * abs(base1 - base0) / base))
            rows.append(("shares", hz) + both_at_once(t.p.pid, hz))
    finally:
        t.stop()
    print(f"target {os.path.basename(TARGET)}, {SECONDS:g} s per run; slowdown against the "
          "mean of the idle runs around it")
    print(f"{'recorder':<10} {'Hz':>5} {'slowdown':>9} {'samples/asked':>14} "
          f"{'CPU/sample':>11} {'less fixed':>11}")
    for row in rows:
        if row[0] == "idle":
            print(f"  (the two idle runs at {row[1]} Hz differ by {row[2]:.1f} %: the noise)")
            continue
        if row[0] == "shares":
            ours, theirs = row[2], row[3]
            diff = max(abs(ours[h] - theirs[h]) for h in HOT)
            print(f"  shares at {row[1]} Hz, goinspect / perf at once: " +
                  ", ".join(f"{h} {ours[h]:.1f}/{theirs[h]:.1f}" for h in HOT) +
                  f" (largest gap {diff:.1f} points)")
            continue
        name, hz, slow, achieved, per, steady = row
        tail = f"{steady:>9.1f}us" if steady is not None else f"{'-':>11}"
        print(f"{name:<10} {hz:>5} {slow:>8.1f}% {achieved:>13.1f}% {per:>9.1f}us {tail}")


main()
