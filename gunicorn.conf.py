"""gunicorn reads this file from the directory it starts in (``make run``, tests/prove, production
started from the checkout). The app itself is built in each worker (no ``--preload``)."""


def on_starting(server):
    """In the master, once: choose where rate-limit counters live, so every worker shares them,
    and say which in one log line."""
    from wsgi import choose_rate_limit_storage

    server.log.info(choose_rate_limit_storage())
