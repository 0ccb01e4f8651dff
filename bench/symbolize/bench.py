#!/usr/bin/env python3
"""The symbolize benchmark: bench.py GOINSPECT BINARY N WORKDIR (see run.sh),
and bench.py --real GOINSPECT BINARY N WORKDIR for a binary built by others.

Times, for goinspect symbolize -a -f -i, addr2line -a -f -i and
llvm-symbolizer --inlines:
  - load: the run with one address (building the index included);
  - all:  the run with N addresses, end to end;
and derives the throughput once loaded, (N - 1) / (all - load).  Peak RSS
and CPU time come from the child's rusage.  Each run is repeated, in rounds
that run every tool in turn, and the least time kept.

--real draws N and then N more addresses uniformly from the binary's .text
(fixed seed) and times goinspect symbolize -a -f -i and addr2line -a -f -i
on 1, N and 2N of them: besides the figures above, the cost per address
once loaded as (2N run - N run) / N, which leaves out what addr2line reads
lazily on its first addresses (each compile unit's lines and functions)."""
import os
import random
import re
import subprocess
import sys
import time

REPEAT = 5


def func_ranges(binary):
    out = subprocess.run(["readelf", "-sW", binary], capture_output=True, text=True,
                         check=True).stdout
    res = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 8 and f[3] == "FUNC" and f[6].isdigit() and f[2].isdigit() and int(f[2]) > 0:
            res.append((int(f[1], 16), int(f[2])))
    return res


def run_once(cmd, stdin_path, out_path):
    """(wall s, peak RSS KiB, CPU s) of one run of cmd; CPU time (user +
    sys) and RSS come from the child's rusage (wait4), to the microsecond."""
    err_path = out_path + ".err"
    with open(stdin_path) as fi, open(out_path, "w") as fo, open(err_path, "w") as fe:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdin=fi, stdout=fo, stderr=fe)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{cmd[0]} failed: {open(err_path).read()[-2000:]}")
    return wall, ru.ru_maxrss, ru.ru_utime + ru.ru_stime


def timed(tools, inputs):
    """{(tool, input): (wall, RSS, CPU)} over REPEAT rounds, each round
    running every tool on every input, so that a burst of load from other
    jobs on the machine does not fall on one tool's runs only: the least
    wall and CPU time of the rounds, the largest RSS."""
    runs = {}
    for _ in range(REPEAT):
        for name, cmd in tools.items():
            for tag, (path, out) in inputs.items():
                runs.setdefault((name, tag), []).append(run_once(cmd, path, out(name)))
    return {k: (min(r[0] for r in v), max(r[1] for r in v), min(r[2] for r in v))
            for k, v in runs.items()}


def once_loaded(n, load, total):
    """Addresses per second once loaded, or None when the difference of the
    two runs is lost in the noise of a loaded machine."""
    return (n - 1) / (total - load) if total > load else None


def num(x):
    return "n/a" if x is None else f"{x:,.0f}"


def times(x, y):
    return "n/a" if x is None or y is None else f"{x / y:.1f}x"


def blocks(path):
    with open(path) as f:
        return blocks_of(f)


def blocks_of(lines):
    res = []
    for line in lines:
        if line.startswith("0x") and len(line) == 19:
            res.append([line])
        else:
            res[-1].append(line)
    return res


def text_section(binary):
    """(address, size) of binary's .text."""
    out = subprocess.run(["readelf", "-SW", binary], capture_output=True, text=True,
                         check=True).stdout
    for line in out.splitlines():
        f = line.replace("[ ", "[").split()
        if len(f) > 5 and f[1] == ".text":
            return int(f[3], 16), int(f[5], 16)
    sys.exit(f"{binary}: no .text section")


def check_output(binary, addrs, ours_path, theirs_path):
    """Compares the -a -f -i outputs; every address that differs must have
    llvm-symbolizer's files and lines (the documented binutils bugs of
    docs/symbolize.md), or be padding that a line row covers, named by no
    function, with eu-addr2line's line.  Exits on one that is neither."""
    ours = blocks(ours_path)
    theirs = blocks(theirs_path)
    if len(ours) != len(theirs):
        sys.exit(f"goinspect answered {len(ours)} addresses, addr2line {len(theirs)}")
    diff = [i for i in range(len(ours)) if ours[i] != theirs[i]]
    print(f"output vs addr2line: {len(ours) - len(diff)} of {len(ours)} addresses identical")
    if diff:
        sample = diff[:: max(1, len(diff) // 2000)]
        llvm = llvm_frames(binary, [addrs[i] for i in sample])
        agree = [i for i in sample if frames(ours[i]) == llvm.get(addrs[i])]
        # padding after a function that a line row covers, outside the
        # unit's ranges (LTO): llvm-symbolizer looks units up by their ranges
        # and finds none ('??:0'); goinspect names no function but keeps
        # addr2line's line, as eu-addr2line does
        seen = set(agree)
        pad = [i for i in sample if i not in seen and ours[i][1] == "??\n" and
               len(ours[i]) == 3 and llvm.get(addrs[i]) == [("??", 0)]]
        eu = eu_frames(binary, [addrs[i] for i in pad])
        pad = [i for i in pad if eu.get(addrs[i], [])[:1] == frames(ours[i])]
        print(f"  {len(diff)} differ; llvm-symbolizer agrees with goinspect on {len(agree)} of "
              f"{len(sample)} sampled (binutils bugs, docs/symbolize.md)"
              + (f", eu-addr2line on {len(pad)} more (padding with a line row, which "
                 "llvm-symbolizer gives no line)" if pad else ""))
        if len(agree) + len(pad) != len(sample):
            sys.exit("goinspect output differs from addr2line where neither llvm-symbolizer "
                     "nor eu-addr2line confirms it")


def real(gi, binary, n, work):
    """The --real benchmark (see the docstring)."""
    text, size = text_section(binary)
    rng = random.Random(20240601)
    os.makedirs(work, exist_ok=True)
    paths = {tag: os.path.join(work, f"real-{tag}.txt") for tag in ("one", "n", "2n")}
    # written as drawn: a list of 2N addresses held here would count in
    # the children's peak RSS (the fork before exec)
    with open(paths["one"], "w") as one, open(paths["n"], "w") as fn, \
            open(paths["2n"], "w") as f2n:
        for i in range(2 * n):
            line = f"{text + rng.randrange(size):x}\n"
            f2n.write(line)
            if i < n:
                fn.write(line)
            if i == 0:
                one.write(line)
    print(f"binary: {binary} ({os.path.getsize(binary) / 1e6:.1f} MB, .text {size / 1e6:.1f} MB), "
          f"{n} and {2 * n} random addresses in .text")
    tools = {
        "goinspect": [gi, "symbolize", "-a", "-f", "-i", "-e", binary],
        "addr2line": ["addr2line", "-a", "-f", "-i", "-e", binary],
    }
    t = timed(tools, {tag: (path, lambda name, tag=tag: os.path.join(work, f"real-{name}.{tag}"))
                      for tag, path in paths.items()})
    print(f"{'tool':10} {'':4} {'load s':>8} {f'{n} s':>8} {f'{2 * n} s':>8} "
          f"{'ns/addr (N-1)':>14} {'ns/addr (2N-N)':>15} {'peak RSS MB':>12}")
    per = {}
    for name in tools:
        for k, what in ((0, "wall"), (2, "CPU")):
            one, a, b = (t[name, tag][k] for tag in ("one", "n", "2n"))
            loaded = (a - one) / (n - 1) * 1e9
            steady = (b - a) / n * 1e9
            per[name, what] = (loaded, steady, b)
            rss = max(t[name, tag][1] for tag in ("one", "n", "2n")) / 1024
            print(f"{name:10} {what:4} {one:8.3f} {a:8.3f} {b:8.3f} {loaded:14.0f} {steady:15.0f} "
                  f"{rss:12.1f}")
    for what in ("CPU", "wall"):
        g, a = per["goinspect", what], per["addr2line", what]
        r = [times(a[j] if a[j] > 0 else None, g[j] if g[j] > 0 else None) for j in range(2)]
        print(f"{what}: per address once loaded {r[1]} addr2line by 2N-N (goal: 20x), "
              f"{r[0]} by N-1; end to end on {2 * n}: {a[2] / g[2]:.1f}x")
    addrs = [int(a, 16) for a in open(paths["2n"])]
    check_output(binary, addrs, os.path.join(work, "real-goinspect.2n"),
                 os.path.join(work, "real-addr2line.2n"))


def main():
    if sys.argv[1] == "--real":
        real(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
        return
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
    t = timed(tools, {"one": (one, lambda name: os.path.join(work, f"{name}.one")),
                      "all": (inp, lambda name: os.path.join(work, f"{name}.out"))})
    res = {}
    cpu = {}
    for name in tools:
        load, _, load_cpu = t[name, "one"]
        total, rss, total_cpu = t[name, "all"]
        res[name] = (load, total, rss, once_loaded(n, load, total))
        cpu[name] = (load_cpu, total_cpu, once_loaded(n, load_cpu, total_cpu))
    stats = subprocess.run([gi, "symbolize", "--stats", "-e", binary], stdin=subprocess.DEVNULL,
                           capture_output=True, text=True).stderr.strip()

    print(f"{'tool':16} {'load s':>8} {'all s':>8} {'addr/s loaded':>14} {'addr/s e2e':>11} "
          f"{'peak RSS MB':>12}")
    for name, (load, total, rss, tput) in res.items():
        print(f"{name:16} {load:8.3f} {total:8.3f} {num(tput):>14} {n / total:11,.0f} "
              f"{rss / 1024:12.1f}")
    print(f"{'CPU (user+sys)':16} {'load s':>8} {'all s':>8} {'addr/s loaded':>14} "
          f"{'ns/addr':>8}")
    for name, (lc, tc, tp) in cpu.items():
        print(f"{name:16} {lc:8.3f} {tc:8.3f} {num(tp):>14} {num(tp and 1e9 / tp):>8}")
    print(f"CPU time, once loaded: {times(cpu['goinspect'][2], cpu['addr2line'][2])} addr2line "
          "(goal: 20x); "
          f"end to end: {cpu['addr2line'][1] / max(cpu['goinspect'][1], 1e-3):.1f}x addr2line, "
          f"{cpu['llvm-symbolizer'][1] / max(cpu['goinspect'][1], 1e-3):.1f}x llvm-symbolizer")
    if stats:
        print(f"goinspect index: {stats}")
    g, a, l = res["goinspect"], res["addr2line"], res["llvm-symbolizer"]
    print(f"throughput once loaded (wall): {times(g[3], a[3])} addr2line, "
          f"{times(g[3], l[3])} llvm-symbolizer (goal: 20x addr2line)")
    print(f"end to end: {a[1] / g[1]:.1f}x faster than addr2line, "
          f"{l[1] / g[1]:.1f}x faster than llvm-symbolizer (goal: faster than both)")
    print(f"peak RSS: {g[2] / 1024:.1f} MB vs addr2line {a[2] / 1024:.1f} MB "
          "(goal: no larger)")

    check_output(binary, addrs, os.path.join(work, "goinspect.out"),
                 os.path.join(work, "addr2line.out"))


def frames(block):
    """[(file, line)] of an -a -f -i block, line '?' as 0."""
    res = []
    for loc in block[2::2]:
        f, _, ln = re.sub(r" \(discriminator \d+\)", "", loc.strip()).rpartition(":")
        res.append((f, int(ln) if ln.isdigit() else 0))
    return res


def eu_frames(binary, addrs):
    """{address: [(file, line)]} from eu-addr2line -a -f -i (columns dropped)."""
    out = subprocess.run(["eu-addr2line", "-a", "-f", "-i", "-e", binary],
                         input="".join(f"{a:#x}\n" for a in addrs), capture_output=True,
                         text=True).stdout if addrs else ""
    res = {}
    for block in blocks_of(out.splitlines(keepends=True)) if out else []:
        fl = []
        for loc in block[2::2]:
            f, _, rest = loc.strip().partition(":")
            ln = rest.partition(":")[0]
            fl.append((f, int(ln) if ln.isdigit() else 0))
        res[int(block[0], 16)] = fl
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
