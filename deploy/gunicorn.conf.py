"""gunicorn settings for production: ``gunicorn -c deploy/gunicorn.conf.py 'panel.app:create_app()'``.

Every value can be changed from the environment without editing this file:
PANEL_BIND (default 127.0.0.1:8000; the reverse proxy connects here), WEB_CONCURRENCY
(worker processes, default 4), PANEL_THREADS (threads per worker, default 4).
"""

import gc
import os
import re

from gunicorn.glogging import Logger

bind = os.environ.get("PANEL_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
# Threads let a worker serve other requests while one waits for PostgreSQL.
worker_class = "gthread"
threads = int(os.environ.get("PANEL_THREADS", "4"))
# Load the application once in the master and fork the workers from it: faster start,
# shared memory. create_app opens no database connection, so none crosses the fork.
preload_app = True


def on_starting(server):
    """In the master, before the workers are forked: import what the first report needs.

    The R-indicator's model fit (analysis.rindicator) imports statsmodels lazily, which
    takes about 0.4 s; here it is paid once, shared by every worker, instead of by each
    worker's first report (and not by every CLI command, as an import in the app would).
    """
    import statsmodels.genmod.generalized_linear_model  # noqa: F401
timeout = 60
graceful_timeout = 20
keepalive = 5
# Restart each worker now and then (with jitter so they do not restart together).
max_requests = 5000
max_requests_jitter = 500
# Logs to stdout/stderr: systemd's journal keeps them. Personal links carry tokens in
# their paths (/s/<token>, /panel/confirm/<token>, ...): the access log masks any long
# token-like path segment and leaves out query strings.
accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("PANEL_LOG_LEVEL", "info")
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'
_TOKEN = re.compile(r"(?<=/)[A-Za-z0-9_.~-]{16,}(?=/|$)")


class TokenMaskingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["U"] = _TOKEN.sub("…", atoms["U"])
        return atoms


logger_class = TokenMaskingLogger
# gunicorn itself only believes X-Forwarded-* from these addresses; the application
# reads them through werkzeug's ProxyFix (PANEL_TRUSTED_PROXIES hops).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn 27's control socket defaults to one path per user (~/.gunicorn/gunicorn.ctl),
# which two instances on one host would share; nothing here uses it.
control_socket_disable = True


def pre_fork(server, worker):
    # Objects made while importing stay in the master's memory pages: keep the collector
    # from touching (and so copying) them in every worker.
    gc.freeze()
