"""gunicorn reads this file from the directory it starts in (``make run``, tests/prove, production
started from the checkout). The app itself is built in each worker (no ``--preload``)."""

import sys


def on_starting(server):
    """In the master, once: check the configuration as a worker would (a bad one stops gunicorn
    with one sentence and exit 2, before any worker boots), choose where rate-limit counters
    live, so every worker shares them, and say which in one log line."""
    from wsgi import EXIT_CONFIGURATION, ConfigurationError, choose_rate_limit_storage

    try:
        server.log.info(choose_rate_limit_storage())
    except ConfigurationError as error:
        server.log.error(str(error))
        if server.pidfile is not None:
            server.pidfile.unlink()
        sys.exit(EXIT_CONFIGURATION)
