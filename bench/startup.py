"""Command-line start-up (issue 18): how long ``flask --app wsgi --help`` takes, and what a command
says when the configuration is missing. One run, each command as a fresh subprocess.

    .venv/bin/python -m bench.startup [--runs 5] [--profile]

1. ``flask --app wsgi --help`` with ``THRIVING_ENV=development``: the median (and min/max) wall
   time of ``--runs`` runs (goal ≤ 0.5 s).
2. ``flask --app wsgi ledger verify`` with ``THRIVING_ENV`` and every ``THRIVING_*`` variable
   unset (production without its secrets): its time, exit code, how many lines it printed and
   whether a traceback was among them (goal: one sentence naming the variable, exit 2).

``--profile`` adds the ten slowest imports of ``--help`` (``python -X importtime``, cumulative).
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FLASK = [str(ROOT / ".venv" / "bin" / "flask"), "--app", "wsgi"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("THRIVING_", "FLASK_"))}
    return {**env, **extra}


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: list[float] = []  # CPU seconds of each timed run: less moved by other load on the machine


def timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    start, cpu = time.perf_counter(), _children_cpu()
    done = subprocess.run(args, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False)
    CPU.append(_children_cpu() - cpu)
    return time.perf_counter() - start, done


def profile(env: dict[str, str]) -> None:
    code = "import sys; sys.argv = ['flask', '--app', 'wsgi', '--help']; from flask.cli import main; main()"
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", code], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    rows = []
    for line in done.stderr.splitlines():
        parts = line.removeprefix("import time:").split("|")
        if len(parts) == 3 and parts[1].strip().isdigit():
            rows.append((int(parts[1]), parts[2].rstrip()))
    print("slowest imports of --help (cumulative):")
    for micros, name in sorted(rows, reverse=True)[:10]:
        print(f"  {micros / 1e6:6.3f} s  {name.strip()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()

    dev = clean_env(THRIVING_ENV="development")
    times, cpu = [], []
    for _ in range(args.runs):
        seconds, done = timed([*FLASK, "--help"], dev)
        if done.returncode != 0:
            sys.exit(f"flask --help failed ({done.returncode}):\n{done.stderr}")
        times.append(seconds)
        cpu.append(CPU[-1])
    median = statistics.median(times)
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    floor = statistics.median(timed([sys.executable, "-c", "import flask, sqlalchemy, sqlmodel"], dev)[0]
                              for _ in range(args.runs))
    print(f"floor (python -c 'import flask, sqlalchemy, sqlmodel'): median {floor:.2f} s")
    print(f"flask --app wsgi --help: median {median:.2f} s of {args.runs} "
          f"(min {min(times):.2f}, max {max(times):.2f}; CPU median {statistics.median(cpu):.2f} s); goal ≤ 0.5 s: {'met' if median <= 0.5 else 'NOT met'}")

    seconds, done = timed([*FLASK, "ledger", "verify"], clean_env())
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    traceback = any(line.startswith("Traceback") for line in lines)
    print(f"flask --app wsgi ledger verify without THRIVING_ENV: {seconds:.2f} s, exit {done.returncode}, "
          f"{len(lines)} line(s) on stderr, {'a traceback' if traceback else 'no traceback'}")
    print(f"  last line: {lines[-1] if lines else '(none)'}")
    ok = done.returncode == 2 and len(lines) == 1 and not traceback
    print(f"goal (one sentence, exit 2): {'met' if ok else 'NOT met'}")
    if args.profile:
        profile(dev)


if __name__ == "__main__":
    main()
