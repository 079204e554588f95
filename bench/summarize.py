#!/usr/bin/env python3
"""Prints a benchmark's medians and its side-by-side comparisons, for bench/run.sh.

Usage: summarize.py SAMPLES [--series KEY LABEL UNIT]... [--compare A B TARGET NOTE]...
                    [--limit KEY TARGET NOTE]...
SAMPLES has one sample a line, "KEY VALUE", in the order they were taken (rounds interleaved).
TARGET is a condition on median(A) / median(B): ">=0.95", "<=0.5", "~0.05" (within 5%), or "-"
(no target: the ratio is only shown). --limit holds median(KEY) against an absolute TARGET
("<=2", ">=1000") in the series' unit. A missed target is printed as a finding, not an error."""
import sys
from statistics import median


def main(argv):
    samples, series, compares, limits = {}, [], [], []
    with open(argv[0]) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                samples.setdefault(parts[0], []).append(float(parts[1]))
    i = 1
    while i < len(argv):
        if argv[i] == "--series":
            series.append(argv[i + 1:i + 4]); i += 4
        elif argv[i] == "--limit":
            limits.append(argv[i + 1:i + 4]); i += 4
        elif argv[i] == "--compare":
            compares.append(argv[i + 1:i + 5]); i += 5
        else:
            sys.exit(f"summarize.py: unknown argument {argv[i]}")
    labels = {k: l for k, l, _ in series}
    fmt = lambda v: f"{v:,.0f}" if abs(v) >= 100 else f"{v:.3g}"
    print(f"| {'case':<40} | {'median':>12} | {'unit':<12} | {'rounds':>6} | samples")
    print(f"|{'-' * 42}|{'-' * 14}|{'-' * 14}|{'-' * 8}|--------")
    for key, label, unit in series:
        v = samples.get(key, [])
        m = fmt(median(v)) if v else "n/a"
        print(f"| {label:<40} | {m:>12} | {unit:<12} | {len(v):>6} | {' '.join(fmt(x) for x in v)}")
    for key, target, note in limits:
        v = samples.get(key)
        if not v:
            print(f"target: {labels.get(key, key)} {target}: not measured {note}"); continue
        m, bound = median(v), float(target[2:])
        held = m <= bound if target.startswith("<=") else m >= bound
        print(f"target: {labels.get(key, key)} {target}: median {fmt(m)}, {'held' if held else 'MISSED'} {note}".rstrip())
    if not compares:
        return
    print()
    # "paired": the median of the per-round ratios A[i] / B[i] (the sides ran next to each other
    # in round i), less moved by load that drifts over the run; the target is held to "ratio".
    print(f"| {'comparison (A / B)':<62} | {'ratio':>6} | {'paired':>6} | {'target':<9} | result")
    print(f"|{'-' * 64}|{'-' * 8}|{'-' * 8}|{'-' * 11}|-------")
    for a, b, target, note in compares:
        va, vb = samples.get(a), samples.get(b)
        name = f"{labels.get(a, a)} / {labels.get(b, b)}"
        if not va or not vb or median(vb) == 0:
            print(f"| {name:<62} | {'n/a':>6} | {'n/a':>6} | {target:<9} | not measured {note}"); continue
        r = median(va) / median(vb)
        paired = f"{median(x / y for x, y in zip(va, vb) if y):6.3f}" if len(va) == len(vb) else "n/a"
        if target == "-":
            verdict = ""
        elif target.startswith("~"):
            verdict = "held" if abs(r - 1) <= float(target[1:]) else "MISSED"
        elif target.startswith(">="):
            verdict = "held" if r >= float(target[2:]) else "MISSED"
        elif target.startswith("<="):
            verdict = "held" if r <= float(target[2:]) else "MISSED"
        else:
            sys.exit(f"summarize.py: bad target {target}")
        shown = f"within {float(target[1:]) * 100:g}%" if target.startswith("~") else target
        print(f"| {name:<62} | {r:6.3f} | {paired:>6} | {shown:<9} | {verdict} {note}".rstrip())


if __name__ == "__main__":
    main(sys.argv[1:])
