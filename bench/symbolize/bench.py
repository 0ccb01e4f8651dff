#!/usr/bin/env python3
"""The symbolize benchmark: bench.py GOINSPECT BINARY N WORKDIR (see run.sh).

Times, for goinspect symbolize -a -f -i, addr2line -a -f -i and
llvm-symbolizer --inlines:
  - load: the run with one address (building the index included);
  - all:  the run with N addresses, end to end;
and derives the throughput once loaded, (N - 1) / (all - load).  Peak RSS
comes from /usr/bin/time -v.  Each run is repeated and the fastest kept."""
import os
import random
import re
import subprocess
import sys
import time

REPEAT = 3


def func_ranges(binary):
    out = subprocess.run(["readelf", "-sW", binary], capture_output=True, text=True,
                         check=True).stdout
    res = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] == "FUNC" and f[6].isdigit() and f[2].isdigit() and int(f[2]) > 0:
            res.append((int(f[1], 16), int(f[2])))
    return res


def timed(cmd, stdin_path, out_path):
    best = None
    for _ in range(REPEAT):
        with open(stdin_path) as fi, open(out_path, "w") as fo:
            t0 = time.monotonic()
            r = subprocess.run(["/usr/bin/time", "-v", *cmd], stdin=fi, stdout=fo,
                               stderr=subprocess.PIPE, text=True)
            t = time.monotonic() - t0
        if r.returncode != 0:
            sys.exit(f"{cmd[0]} failed: {r.stderr[-2000:]}")
        rss = int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr).group(1))
        cpu = sum(float(re.search(rf"{k} time \(seconds\): ([\d.]+)", r.stderr).group(1))
                  for k in ("User", "System"))
        if best is None or t < best[0]:
            best = (t, rss, cpu)
    return best


def blocks(path):
    res = []
    for line in open(path):
        if line.startswith("0x") and len(line) == 19:
            res.append([line])
        else:
            res[-1].append(line)
    return res


def main():
    gi, binary, n, work = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    funcs = func_ranges(binary)
    rng = random.Random(20240601)
    addrs = [a + rng.randrange(s) for a, s in (rng.choice(funcs) for _ in range(n))]
    inp = os.path.join(work, "addrs.txt")
    one = os.path.join(work, "one.txt")
    with open(inp, "w") as f:
        f.write("".join(f"{a:x}\n" for a in addrs))
    with open(one, "w") as f:
        f.write(f"{addrs[0]:x}\n")
    size = os.path.getsize(binary)
    print(f"binary: {binary} ({size / 1e6:.1f} MB, {len(funcs)} function symbols), "
          f"{n} random addresses inside functions")

    tools = {
        "goinspect": [gi, "symbolize", "-a", "-f", "-i", "-e", binary],
        "addr2line": ["addr2line", "-a", "-f", "-i", "-e", binary],
        "llvm-symbolizer": ["llvm-symbolizer", "--inlines", f"--obj={binary}"],
    }
    res = {}
    cpu = {}
    for name, cmd in tools.items():
        load, _, load_cpu = timed(cmd, one, os.path.join(work, f"{name}.one"))
        total, rss, total_cpu = timed(cmd, inp, os.path.join(work, f"{name}.out"))
        res[name] = (load, total, rss, (n - 1) / max(total - load, 1e-9))
        cpu[name] = (load_cpu, total_cpu, (n - 1) / max(total_cpu - load_cpu, 1e-3))
    stats = subprocess.run([gi, "symbolize", "--stats", "-e", binary], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True).stderr.strip()

    print(f"{'tool':16} {'load s':>8} {'all s':>8} {'addr/s loaded':>14} {'addr/s e2e':>11} "
          f"{'peak RSS MB':>12}")
    for name, (load, total, rss, tput) in res.items():
        print(f"{name:16} {load:8.3f} {total:8.3f} {tput:14,.0f} {n / total:11,.0f} "
              f"{rss / 1024:12.1f}")
    print(f"{'CPU (user+sys)':16} {'load s':>8} {'all s':>8} {'addr/s loaded':>14}")
    for name, (lc, tc, tp) in cpu.items():
        print(f"{name:16} {lc:8.2f} {tc:8.2f} {tp:14,.0f}")
    print(f"CPU time, once loaded: {cpu['goinspect'][2] / cpu['addr2line'][2]:.1f}x addr2line; "
          f"end to end: {cpu['addr2line'][1] / max(cpu['goinspect'][1], 1e-3):.1f}x addr2line, "
          f"{cpu['llvm-symbolizer'][1] / max(cpu['goinspect'][1], 1e-3):.1f}x llvm-symbolizer")
    if stats:
        print(f"goinspect index: {stats}")
    g, a, l = res["goinspect"], res["addr2line"], res["llvm-symbolizer"]
    print(f"throughput once loaded: {g[3] / a[3]:.1f}x addr2line, {g[3] / l[3]:.1f}x llvm-symbolizer"
          " (goal: 20x addr2line)")
    print(f"end to end: {a[1] / g[1]:.1f}x faster than addr2line, "
          f"{l[1] / g[1]:.1f}x faster than llvm-symbolizer (goal: faster than both)")
    print(f"peak RSS: {g[2] / 1024:.1f} MB vs addr2line {a[2] / 1024:.1f} MB "
          "(goal: no larger)")

    ours = blocks(os.path.join(work, "goinspect.out"))
    theirs = blocks(os.path.join(work, "addr2line.out"))
    diff = [i for i in range(len(ours)) if ours[i] != theirs[i]]
    print(f"output vs addr2line: {len(ours) - len(diff)} of {len(ours)} addresses identical")
    if diff:
        sample = diff[:: max(1, len(diff) // 2000)]
        llvm = llvm_frames(binary, [addrs[i] for i in sample])
        agree = sum(1 for i in sample if frames(ours[i]) == llvm.get(addrs[i]))
        print(f"  {len(diff)} differ; llvm-symbolizer agrees with goinspect on {agree} of "
              f"{len(sample)} sampled (binutils' DWARF 5 file-index bug, docs/symbolize.md)")
        if agree != len(sample):
            sys.exit("goinspect output differs from addr2line where llvm-symbolizer does not "
                     "confirm it")


def frames(block):
    """[(file, line)] of an -a -f -i block, line '?' as 0."""
    res = []
    for loc in block[2::2]:
        f, _, ln = re.sub(r" \(discriminator \d+\)", "", loc.strip()).rpartition(":")
        res.append((f, int(ln) if ln.isdigit() else 0))
    return res


def llvm_frames(binary, addrs):
    out = subprocess.run(["llvm-symbolizer", "--output-style=GNU", "-a", "-f", "-i",
                          f"--obj={binary}"], input="".join(f"{a:#x}\n" for a in addrs),
                         capture_output=True, text=True).stdout
    res = {}
    cur = None
    lines = []
    for line in out.splitlines() + ["0x0"]:
        if re.match(r"^0x[0-9a-f]+$", line):
            if cur is not None:
                res[cur] = frames([None] + lines)
            cur, lines = int(line, 16), []
        else:
            lines.append(line)
    return res


if __name__ == "__main__":
    main()
