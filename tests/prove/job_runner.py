"""One cron host for tests/prove/test_jobs.py: runs every cron job, as ``flask --app wsgi …``
would, on the database given, in a process of its own.

    python -m tests.prove.job_runner DATABASE_URL WORKDIR NAME [--no-claiming]

Before each job it waits at a file barrier in WORKDIR until every runner is there, so the
runners start each job together. Each statement rendered appends a line to WORKDIR/renders, and
each job's output goes to stdout after a ``== job`` line. ``--no-claiming`` turns the claiming
off (``community.jobs._CLAIMING``) and pauses after the candidates are read, the naive cron job.
"""

import os
import sys
import time
from pathlib import Path

JOBS = [
    ("mail", ["mail", "deliver"]),
    ("rounds", ["votes", "close-due"]),
    ("spend", ["spend", "expire"]),
    ("pledges", ["pledges", "lapse-due"]),
    ("statements", ["statements", "freeze-pending"]),
]
RUNNERS = 2
BARRIER_TIMEOUT = 120


def _barrier(workdir: Path, job: str, name: str) -> None:
    (workdir / f"ready-{job}-{name}").touch()
    deadline = time.monotonic() + BARRIER_TIMEOUT
    while len(list(workdir.glob(f"ready-{job}-*"))) < RUNNERS:
        if time.monotonic() > deadline:
            raise SystemExit(f"runner {name}: the other runner never reached {job}")
        time.sleep(0.005)


def main(argv: list[str]) -> int:
    database_url, workdir, name = argv[0], Path(argv[1]), argv[2]
    claiming = "--no-claiming" not in argv
    from community import jobs
    from statements import store
    from tests.prove.harness import SECRET
    from wsgi import create_app

    renders = workdir / "renders"

    def counted(render):
        def wrapper(document):
            files = render(document)
            with renders.open("a", encoding="utf-8") as out:  # one short line per write: O_APPEND
                out.write(f"{name} {files.statement_id}\n")
            return files
        return wrapper

    store.team_files = counted(store.team_files)
    store.pack_files = counted(store.pack_files)
    if not claiming:
        jobs._CLAIMING = False
        jobs._AFTER_CANDIDATES = lambda: time.sleep(0.5)
    app = create_app({"ENV_NAME": "testing", "TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": database_url,
                      "RATELIMIT_ENABLED": False, "OUTBOX_DIR": str(workdir / "outbox"),
                      "MAIL_DELIVERY": "queue", "STATEMENT_FREEZE": "cron"})
    runner = app.test_cli_runner()
    failed = 0
    for job, args in JOBS:
        _barrier(workdir, job, name)
        result = runner.invoke(args=args)
        print(f"== {job} exit {result.exit_code}")
        print(result.output, end="")
        if result.exception and not isinstance(result.exception, SystemExit):
            import traceback

            traceback.print_exception(result.exception)
        failed |= result.exit_code != 0
    sys.stdout.flush()
    os._exit(1 if failed else 0)  # no atexit work: the test reads the database next


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
