#!/usr/bin/env python3
"""Generate a large C program for the symbolize benchmark.

    gen.py OUTDIR [--units N] [--funcs M] [--seed S]

Writes OUTDIR/common.h (a family of static inline helpers that call each
other, so every use inlines a tree several levels deep), OUTDIR/uNNN.c
(N translation units of M functions each: loops, branches, calls into
other units and many inlined helpers) and OUTDIR/main.c, plus a Makefile
that builds OUTDIR/big with $(CC) $(CFLAGS) (default -O2 -g).  The output
is deterministic for a given seed.
"""
import argparse
import os
import random


def helpers(rng, n):
    out = ["#ifndef COMMON_H\n#define COMMON_H\n#include <stdint.h>\n",
           "extern volatile uint64_t bench_sink;\n"]
    for i in range(n):
        body = []
        body.append(f"static inline uint64_t h{i}(uint64_t x, uint64_t y)\n{{")
        body.append(f"    uint64_t r = x * {rng.randrange(3, 97)}u + y;")
        # each helper calls up to two earlier helpers: trees of inlining
        for _ in range(rng.randrange(0, 3) if i > 2 else 0):
            j = rng.randrange(0, i)
            body.append(f"    if (r & {1 << rng.randrange(0, 8)}u)")
            body.append(f"        r ^= h{j}(r >> {rng.randrange(1, 9)}, y + {rng.randrange(1, 50)});")
        body.append(f"    for (uint64_t k = 0; k < (y & {rng.choice([3, 7, 15])}u); k++)")
        body.append(f"        r = (r << 1) ^ (k * {rng.randrange(5, 200)}u) ^ bench_sink;")
        body.append("    return r;\n}\n")
        out.append("\n".join(body))
    out.append("#endif\n")
    return "\n".join(out)


def unit(rng, u, nunits, nfuncs, nhelpers):
    lines = ['#include "common.h"\n']
    for v in range(nunits):
        if v != u:
            lines.append(f"uint64_t u{v}_entry(uint64_t);")
    lines.append("")
    for f in range(nfuncs):
        static = "static " if f > 0 else ""
        attr = "__attribute__((noinline)) " if f % 3 == 0 else ""
        name = f"u{u}_f{f}" if f > 0 else f"u{u}_entry"
        lines.append(f"{static}{attr}uint64_t {name}(uint64_t x);")
    lines.append("")
    for f in range(nfuncs - 1, -1, -1):
        static = "static " if f > 0 else ""
        attr = "__attribute__((noinline)) " if f % 3 == 0 else ""
        name = f"u{u}_f{f}" if f > 0 else f"u{u}_entry"
        body = [f"{static}{attr}uint64_t {name}(uint64_t x)\n{{", "    uint64_t acc = x;"]
        for _ in range(rng.randrange(3, 8)):
            h = rng.randrange(0, nhelpers)
            body.append(f"    acc += h{h}(acc, x + {rng.randrange(1, 1000)});")
        if f + 1 < nfuncs:
            for _ in range(rng.randrange(1, 3)):
                g = rng.randrange(f + 1, nfuncs)
                body.append(f"    if (acc & {1 << rng.randrange(0, 6)}u)")
                body.append(f"        acc ^= u{u}_f{g}(acc >> 3);")
        if f == 0 and nunits > 1 and u + 1 < nunits:
            body.append(f"    if (x > {rng.randrange(1000, 100000)}u)")
            body.append(f"        acc += u{u + 1}_entry(x - 1);")
        body.append("    for (int i = 0; i < (int)(x & 7); i++)")
        body.append(f"        acc = acc * {rng.randrange(3, 1000)}u + (uint64_t)i;")
        body.append("    return acc;\n}\n")
        lines.append("\n".join(body))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("outdir")
    ap.add_argument("--units", type=int, default=560)
    ap.add_argument("--funcs", type=int, default=60)
    ap.add_argument("--helpers", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    rng = random.Random(a.seed)
    os.makedirs(a.outdir, exist_ok=True)

    def write(name, text):
        path = os.path.join(a.outdir, name)
        try:
            with open(path) as f:
                if f.read() == text:
                    return          # unchanged: keep make's timestamps
        except OSError:
            pass
        with open(path, "w") as f:
            f.write(text)

    write("common.h", helpers(rng, a.helpers))
    for u in range(a.units):
        write(f"u{u:03d}.c", unit(rng, u, a.units, a.funcs, a.helpers))
    calls = "\n".join(f"    t += u{u}_entry(x + {u});" for u in range(a.units))
    write("main.c", '#include <stdio.h>\n#include <stdlib.h>\n#include "common.h"\n'
          "volatile uint64_t bench_sink;\n"
          + "".join(f"uint64_t u{u}_entry(uint64_t);\n" for u in range(a.units))
          + "int main(int argc, char **argv)\n{\n    uint64_t x = argc > 1 ? strtoull(argv[1], 0, 0) : 1, t = 0;\n"
          + calls + '\n    printf("%llu\\n", (unsigned long long)t);\n    return 0;\n}\n')
    srcs = " ".join(["main.c"] + [f"u{u:03d}.c" for u in range(a.units)])
    objs = srcs.replace(".c", ".o")
    write("Makefile", "CC ?= gcc\nCFLAGS ?= -O2 -g\n"
          f"OBJS = {objs}\n"
          "big: $(OBJS)\n\t$(CC) $(CFLAGS) -o $@ $(OBJS)\n"
          "%.o: %.c common.h\n\t$(CC) $(CFLAGS) -c $< -o $@\n")


if __name__ == "__main__":
    main()
