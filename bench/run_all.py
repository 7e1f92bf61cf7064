"""Run every benchmark of the project and write BENCHMARKS.md.

Each ``bench/bench_*.py`` script prints its own table (markdown) to stdout; this
runner runs them one after the other (never in parallel: they time things),
and writes one markdown file with the machine, the date and every table.

    python bench/run_all.py            # full runs
    python bench/run_all.py --quick    # passes --quick to scripts that accept it
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def machine() -> str:
    """One line naming the machine the numbers were measured on."""
    cpu = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024**2:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return f"{cpu}, {os.cpu_count()} logical cores{mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def _sections(lines: list[str]) -> tuple[list[str], dict[str, list[str]]]:
    """Split a benchmarks file into its header and its ``## name`` sections (in order)."""
    head: list[str] = []
    sections: dict[str, list[str]] = {}
    current: list[str] = head
    for line in lines:
        if line.startswith("## "):
            current = sections.setdefault(line[3:].strip(), [])
        current.append(line)
    return head, sections


def _merge(old_text: str, new_parts: list[str], *, stamp: str) -> list[str]:
    """Replace the re-run sections of an existing file in place; keep the others as they were."""
    old_head, old = _sections(old_text.splitlines())
    _, new = _sections("\n".join(new_parts).splitlines())
    for name, lines in new.items():
        lines.insert(1, f"\n(re-run {stamp}; other sections keep their own date)")
        old[name] = [*lines, ""] if lines[-1].strip() else lines
    return [*old_head, *(line for lines in old.values() for line in lines)]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="pass --quick to every script that supports it")
    ap.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    ap.add_argument(
        "--only",
        nargs="*",
        help="script names to run (default: all bench_*.py); their sections of an existing --out are replaced",
    )
    args = ap.parse_args(argv)

    scripts = sorted(p for p in (ROOT / "bench").glob("bench_*.py"))
    if args.only:
        scripts = [p for p in scripts if p.stem in args.only or p.name in args.only]
    parts = [
        "# aunce-rt benchmarks",
        "",
        f"- machine: {machine()}",
        f"- date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- mode: {'quick' if args.quick else 'full'}",
        "",
        "Each section is one script's output, measured in one run. Re-run with `python bench/run_all.py`.",
        "",
    ]
    failed = 0
    for script in scripts:
        cmd = [sys.executable, str(script)]
        if args.quick and "--quick" in script.read_text():
            cmd.append("--quick")
        print(f"== {script.name}", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        took = time.perf_counter() - t0
        print(proc.stdout, flush=True)
        parts += [
            f"## {script.stem}",
            "",
            f"`{' '.join(['python', *cmd[1:]]).replace(str(ROOT) + '/', '')}` ({took:.0f} s)",
            "",
        ]
        if proc.returncode != 0:
            failed += 1
            tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
            parts += [f"FAILED (exit {proc.returncode}):", "", "```", tail, "```", ""]
            print(tail, file=sys.stderr)
        else:
            parts += [proc.stdout.strip(), ""]
    if args.only and args.out.is_file():
        parts = _merge(
            args.out.read_text(), parts, stamp=f"{dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M} UTC"
        )
    args.out.write_text("\n".join(parts) + "\n")
    print(f"wrote {args.out}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
