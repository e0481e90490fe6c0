"""Start-up of the `bankbot` command against `python -c "import typer"`, in the same run.

    python -m bench.bench_cli [--runs 15]

Builds the demo bank in a temp BANKBOT_HOME (`bankbot init`, then the demo CSVs imported as
`seed-demo` does, without the note index: a look-up never opens it), then times, as fresh
processes, round robin so drift on this shared machine hits every command alike:
- the baseline `python -c "import typer"`;
- `bankbot --help`;
- `bankbot ask --as S001 "查一下张伟"` (a card look-up);
- `bankbot staff list`;
  each of these two both as a user gets it (the first call starts the command server,
  bot/cli_server.py, so the timed calls run warm) and with `BANKBOT_CLI_SERVER=off` (every
  call cold, as the first call of a quarter hour is);
- the floor of a command that reads the database: importing typer, SQLAlchemy's ORM and
  pydantic-settings, nothing of ours.
Prints the median and p90 wall time of each and its ratio to the baseline's median against
the targets (2x, 4x, 4x), and the load average. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

BASELINE = "import typer"
# What any command that reads the database imports at the least: typer, SQLAlchemy's ORM and
# pydantic-settings, nothing of ours. Printed to show how much of a command is the stack's.
FLOOR = "floor: typer + SQLAlchemy ORM + pydantic-settings imports"
TARGETS = {"bankbot --help": 2.0, "bankbot ask (card look-up)": 4.0, "bankbot staff list": 4.0}
COLD = "  cold: BANKBOT_CLI_SERVER=off"


def _bankbot() -> list[str]:
    script = Path(sys.executable).parent / "bankbot"
    return [str(script)] if script.exists() else [sys.executable, "-m", "bot.cli"]


def commands() -> dict[str, tuple[list[str], dict[str, str]]]:
    """Label -> argv of each process timed and what it adds to the environment."""
    bankbot = _bankbot()
    ask = [*bankbot, "ask", "--as", "S001", "查一下张伟"]
    staff = [*bankbot, "staff", "list"]
    cold = {"BANKBOT_CLI_SERVER": "off"}
    return {
        BASELINE: ([sys.executable, "-c", "import typer"], {}),
        "bankbot --help": ([*bankbot, "--help"], {}),
        "bankbot ask (card look-up)": (ask, {}),
        "bankbot ask (card look-up)" + COLD: (ask, cold),
        "bankbot staff list": (staff, {}),
        "bankbot staff list" + COLD: (staff, cold),
        FLOOR: ([sys.executable, "-c", "import typer, sqlalchemy.orm, pydantic_settings"], {}),
    }


def wait_for_server(run_dir: Path) -> None:
    """The warm-up's first quick command starts the server: wait until it listens."""
    for _ in range(300):
        if list(run_dir.glob("cli-*.sock")):
            return
        time.sleep(0.1)
    raise SystemExit("the command server did not start")


def stop_server(run_dir: Path) -> None:
    for pid_file in run_dir.glob("cli-*.pid"):
        os.kill(int(pid_file.read_text()), signal.SIGTERM)


def build_bank(env: dict[str, str], today: date) -> None:
    """`bankbot init` and the demo data, no index."""
    subprocess.run([*_bankbot(), "init"], env=env, check=True, capture_output=True)
    code = (
        "from datetime import date\n"
        "from bot.cli_common import store_from_env\n"
        "from crm_store.demo import DEMO_KINDS, write_demo_files\n"
        "from crm_store.importer import import_file\n"
        "store = store_from_env()\n"
        f"day = date.fromisoformat('{today}')\n"
        "files = write_demo_files(store.settings.home / 'demo', today=day)\n"
        "for kind in DEMO_KINDS:\n"
        "    import_file(store, kind, files[kind])\n"
        "store.db.analyze()\n"
        "store.close()\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, check=True)


def time_once(argv: list[str], env: dict[str, str]) -> float:
    """Wall seconds of one process run to its end."""
    started = time.perf_counter()
    done = subprocess.run(argv, env=env, capture_output=True)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{argv} failed: {done.stderr.decode()[-400:]}")
    return elapsed


def main() -> None:
    """Build, time round robin, print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "BANKBOT_HOME": home,
            "DATABASE_URL": "",
            "BANKBOT_DATA_KEY": "",
            "CHROMA_URL": "",
            "BANKBOT_RUN_DIR": str(Path(home) / "run"),
        }
        build_bank(env, date(2026, 11, 28))
        timed = commands()
        samples: dict[str, list[float]] = {label: [] for label in timed}
        try:
            for argv, extra in timed.values():  # warm the page cache, .pyc files, the server
                time_once(argv, {**env, **extra})
            wait_for_server(Path(home) / "run")
            for _ in range(args.runs):
                for label, (argv, extra) in timed.items():
                    samples[label].append(time_once(argv, {**env, **extra}))
        finally:
            stop_server(Path(home) / "run")
    base = statistics.median(samples[BASELINE])
    print(f"load average {os.getloadavg()[0]:.1f}, {args.runs} runs each, round robin")
    for label, values in samples.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1]
        line = f"{label:62} median {median * 1000:6.0f} ms  p90 {p90 * 1000:6.0f} ms"
        if label in TARGETS:
            ratio = median / base
            verdict = "met" if ratio <= TARGETS[label] else "NOT met"
            line += f"  {ratio:.2f}x the baseline (target <= {TARGETS[label]:.0f}x: {verdict})"
        elif label == FLOOR or label.endswith(COLD):
            line += f"  {median / base:.2f}x the baseline"
        print(line)


if __name__ == "__main__":
    main()
