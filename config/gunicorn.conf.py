"""gunicorn in production: ``gunicorn -c config/gunicorn.conf.py config.wsgi``.

The set-up this belongs to (docs/deploy.md): nginx in front, which reads every request
whole (request buffering, a body size limit and client timeouts) before it passes it on,
so a client that trickles its request ties up one of nginx's connections, not a Django
worker. Behind it, threaded workers: a request whose headers or body still arrive slowly
(a client that reaches gunicorn directly) holds one thread of one worker while the other
threads keep answering; with the old sync workers, two such clients held both workers.

Anything here can be overridden on the command line (``-w 4``, ``-b 0.0.0.0:8000``) or in
``GUNICORN_CMD_ARGS``. Each thread keeps its own database connection (``CONN_MAX_AGE``):
allow ``workers × threads`` connections per server in PostgreSQL.
"""

import os

# Only the proxy on this machine reaches gunicorn; nginx listens on the public address.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threaded workers: the slow-client guard behind the proxy. WEB_CONCURRENCY is the
# conventional variable for the number of processes.
worker_class = "gthread"
workers = int(os.environ.get("WEB_CONCURRENCY", 2 * (os.cpu_count() or 1) + 1))
threads = int(os.environ.get("GUNICORN_THREADS", 4))

# A worker silent this long (a request stuck in the database, say) is killed and replaced;
# on a restart or deploy, requests in flight get this long to finish.
timeout = 30
graceful_timeout = 30
# Idle keep-alive connections (nginx's upstream pool) close after this; nginx's own
# keepalive_timeout towards gunicorn must be shorter.
keepalive = 5

# Request line and headers: what a client can make gunicorn hold before the app runs.
# Bodies are capped by nginx (client_max_body_size) and by the API (API_MAX_BODY_BYTES).
limit_request_line = 4094
limit_request_fields = 50
limit_request_field_size = 8190

# X-Forwarded-Proto and X-Forwarded-For are believed from the local proxy only; set
# TRUSTED_PROXY_COUNT=1 so failed-authentication throttling sees the client's address.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")

# Recycle workers now and then (staggered), so a slow leak never grows for weeks. Each
# recycle imports Django afresh (a second or two of CPU): at 2,000 a burst of 10,000
# webhooks restarted every worker mid-burst and cost a quarter of the intake's rate
# (docs/integrations.md, "Speed").
max_requests = 20000
max_requests_jitter = 2000

# nginx keeps the access log; gunicorn logs its own errors and warnings to stderr.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
