#!/usr/bin/python3
"""Prints the table of bench_redis.sh: every figure per server side by side, the ratio of
each dfly column to Redis, and whether the last dfly column meets its target.

usage: bench_report.py RESULTS.tsv CLK_TCK LABEL...   (the first LABEL is the baseline)

RESULTS.tsv rows (tab-separated):
    run  LABEL  PIPELINE  TEST  REQUESTS  CPU_TICKS  CSV_FILE   (redis-benchmark --csv output)
    mem  LABEL  BYTES_PER_KEY|n/a
"""

import csv
import sys

MILLION = 1_000_000

# Targets of the last (default thread count) dfly column against Redis: (kind, pipeline)
# -> (comparison, ratio). See tests/bench/README.md.
TARGETS = {
    ("rps", "16"): (">=", 1.2),
    ("cpu", "1"): ("<=", 0.8),
    ("cpu", "16"): ("<=", 0.8),
    ("p99", "1"): ("<=", 1.0),
    ("mem", None): ("<=", 0.6),
}

ROWS = [  # (kind, title, unit, format)
    ("rps", "requests/s", "", "{:,.0f}"),
    ("p50", "p50 latency", "ms", "{:.3f}"),
    ("p99", "p99 latency", "ms", "{:.3f}"),
    ("cpu", "server CPU per 1M requests", "s", "{:.2f}"),
]


def read_benchmark_csv(path):
    """{"rps": .., "p50": .., "p99": ..} from redis-benchmark --csv, or {} if it has none."""
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except OSError:
        return {}
    if not rows:
        return {}
    row = rows[-1]
    try:
        return {
            "rps": float(row["rps"]),
            "p50": float(row["p50_latency_ms"]),
            "p99": float(row["p99_latency_ms"]),
        }
    except (KeyError, ValueError):
        return {}


def load(path, clk_tck):
    """figures[(kind, pipeline, test)][label] = value; requests[(pipeline, test)] = n."""
    figures, requests = {}, {}
    with open(path) as f:
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if parts[0] == "run":
                _, label, pipeline, test, n, ticks, csv_file = parts
                requests[(pipeline, test)] = int(n)
                got = read_benchmark_csv(csv_file)
                if got:
                    got["cpu"] = int(ticks) / clk_tck / int(n) * MILLION
                for kind, value in got.items():
                    figures.setdefault((kind, pipeline, test.upper()), {})[label] = value
            elif parts[0] == "mem" and parts[2] != "n/a":
                figures.setdefault(("mem", None, None), {})[parts[1]] = float(parts[2])
    return figures, requests


def verdict(kind, pipeline, ratio):
    target = TARGETS.get((kind, pipeline))
    if target is None:
        return ""
    op, bound = target
    if ratio is None:
        return f"n/a (target {op} {bound}x)"
    ok = ratio >= bound if op == ">=" else ratio <= bound
    return f"{'ok' if ok else 'MISS'} ({op} {bound}x)"


def table(figures, requests, labels):
    base, others = labels[0], labels[1:]
    header = ["figure", *labels] + [f"{o}/{base}" for o in others] + [f"target ({labels[-1]})"]
    lines = [header]

    def add(title, kind, pipeline, test, fmt):
        values = figures.get((kind, pipeline, test), {})
        row = [title]
        row += [fmt.format(values[lb]) if lb in values else "n/a" for lb in labels]
        ratios = []
        for o in others:
            if o in values and base in values and values[base]:
                ratios.append(values[o] / values[base])
                row.append(f"{ratios[-1]:.2f}")
            else:
                ratios.append(None)
                row.append("n/a")
        row.append(verdict(kind, pipeline, ratios[-1] if ratios else None))
        lines.append(row)

    pipelines = sorted({p for (p, _) in requests}, key=int)
    tests = [t for t in ("SET", "GET") if any((p, t.lower()) in requests for p in pipelines)]
    for kind, title, unit, fmt in ROWS:
        for p in pipelines:
            for t in tests:
                name = f"{t} -P {p}: {title}" + (f" ({unit})" if unit else "")
                add(name, kind, p, t, fmt)
    add("bytes per key (DEBUG POPULATE)", "mem", None, None, "{:.1f}")

    widths = [max(len(r[i]) for r in lines) for i in range(len(header))]
    out = []
    for n, r in enumerate(lines):
        cells = [r[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(r[1:-1], widths[1:-1])]
        cells.append(r[-1])
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("-" * len(out[0]))
    return "\n".join(out)


def main(argv):
    if len(argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    path, clk_tck, labels = argv[1], int(argv[2]), argv[3:]
    figures, requests = load(path, clk_tck)
    print(table(figures, requests, labels))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
