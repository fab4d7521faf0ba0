# SPLP image: one image, three roles (the command picks one):
#   docker run IMAGE                                   gateway node  (data port 8000, /_ready)
#   docker run -e SPLP_READY_URL=http://127.0.0.1:8001/_ready IMAGE \
#     serve --role control --config conf/gateway.yaml --host 0.0.0.0 --port 8001      control API
# Build: docker build -t splp .   (see README "Running a cluster").

# ---- build: a virtualenv holding exactly what requirements.lock pins (hash-checked), then SPLP itself ----
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/splp
COPY requirements.lock ./
RUN /opt/splp/bin/pip install --require-hashes -r requirements.lock
COPY pyproject.toml README.md ./
COPY gateway gateway
COPY keymanager keymanager
COPY policies policies
RUN /opt/splp/bin/pip install --no-deps --no-build-isolation . \
    && /opt/splp/bin/pip uninstall -y pip

# ---- run: the slim base, the virtualenv and conf/; no compiler, no pip, a non-root user ----
FROM python:3.11-slim-bookworm
RUN groupadd --system --gid 10001 splp \
    && useradd --system --uid 10001 --gid splp --home-dir /srv/splp --create-home --shell /usr/sbin/nologin splp
COPY --from=build /opt/splp /opt/splp
COPY --chown=root:root conf /srv/splp/conf
WORKDIR /srv/splp
ENV PATH=/opt/splp/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SPLP_HOST=0.0.0.0 \
    SPLP_READY_URL=http://127.0.0.1:8000/_ready
USER 10001:10001
EXPOSE 8000 8001
# Readiness of whichever role runs (SPLP_READY_URL); a draining node reports unhealthy on purpose.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request as u; sys.exit(u.urlopen(os.environ['SPLP_READY_URL'], timeout=2).status != 200)"]
# exec form: splp is PID 1 and receives SIGTERM itself (drain, then exit 0)
ENTRYPOINT ["splp"]
CMD ["serve", "--role", "gateway", "--config", "conf/gateway.yaml"]
