"""gunicorn's settings for production, behind nginx (deploy/nginx/)::

    FUNRUN_ENV=production FUNRUN_TRUSTED_PROXIES=1 ... gunicorn -c deploy/gunicorn.conf.py wsgi:app

Sync workers (2 x cores + 1; WEB_CONCURRENCY overrides) on loopback: only nginx talks to
them, with whole requests, and takes their answers whole, so slow clients never hold a
worker. Options given on gunicorn's command line win over this file (tests/deploy/ sets
its own port and worker count that way).
"""

from __future__ import annotations

import multiprocessing
import os

#: Loopback only: nginx is the one client (FUNRUN_BIND, e.g. unix:/run/funrun/gunicorn.sock).
bind = os.environ.get("FUNRUN_BIND", "127.0.0.1:8000")
worker_class = "sync"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * multiprocessing.cpu_count() + 1))
#: A worker silent this long is killed and replaced; nginx's proxy_read_timeout is longer.
timeout = 30
graceful_timeout = 30
#: X-Forwarded-Proto from nginx on loopback only (gunicorn's default, said out loud).
forwarded_allow_ips = "127.0.0.1,::1"

#: No access log here: gunicorn's writes the raw request line, manage token and query
#: string included. nginx keeps the access log, with tokens replaced
#: (deploy/nginx/funrun.conf.template). Errors and worker restarts go to standard error.
accesslog = None
errorlog = "-"
loglevel = "info"
proc_name = "funrun"
#: gunicorn 27's control socket lives at one path per user (~/.gunicorn/gunicorn.ctl), shared
#: by every instance that user runs; nothing here uses it.
control_socket_disable = True
