"""Run every benchmark, print a table and write it to benchmarks/latest.md."""
import platform
import sys
from datetime import datetime, timezone
from pathlib import Path

from benchmarks import (bench_cover, bench_detection, bench_faces, bench_links, bench_photos, bench_post, bench_takedown,
                        bench_text, bench_trust)

MODULES = [bench_photos, bench_faces, bench_post, bench_cover, bench_detection, bench_text, bench_links, bench_takedown,
           bench_trust]


def main() -> None:
    lines = [
        f"Measured {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on {platform.machine()}, "
        f"Python {platform.python_version()}; median seconds, baseline in the same run.",
        "",
        "| what | ours (s) | baseline (s) | ratio |",
        "|---|---|---|---|",
    ]
    for module in MODULES:
        for row in module.run():
            lines.append(f"| {row['name']} | {row['seconds']:.3g} | {row['baseline_seconds']:.3g} | {row['ratio']:.2f} |")
            print(lines[-1], flush=True)
    for module in MODULES:  # a module's own table (recall, say) goes below the rows
        if hasattr(module, "table"):
            lines += ["", module.table()]
            print(lines[-1], flush=True)
    out = Path(__file__).with_name("latest.md")
    out.write_text("\n".join(lines) + "\n")
    print(f"written to {out}", file=sys.stderr)


main()
