# quantrac: one image for the gateway, the collector, alerting and the API (docs/deploy.md).
#   docker build -t quantrac:0.1.0 .
#   docker run --rm quantrac:0.1.0 config check /etc/quantrac/site
# The service is the command: `gateway SITE …`, `collector SITE …`, `alerting SITE …`, `api …`.

# A pinned base: a rebuild next year gets the same Python, and a new one is a reviewed change.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- build: the package and its dependencies into a virtual environment ---------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN python -m venv /opt/quantrac
WORKDIR /src
# Only what the wheel is built from (.dockerignore lets nothing else into the context).
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY collector ./collector
COPY alerting ./alerting
COPY quantrac ./quantrac
COPY firmware_configs ./firmware_configs
# Not editable: the wheel carries the device profiles (quantrac/_firmware_configs). The ftp
# extra is the gateway's own FTP endpoint for TT10 data files (--tt10-ftp).
RUN /opt/quantrac/bin/pip install ".[ftp]" \
 && /opt/quantrac/bin/quantrac --help >/dev/null

# --- run: the environment alone, as an unprivileged user --------------------------------------
FROM ${PYTHON_IMAGE}
# A fixed uid/gid, so bind-mounted folders (backups, the TT10 inbox) can be given to it.
RUN groupadd --system --gid 10001 quantrac \
 && useradd --system --uid 10001 --gid quantrac --home-dir /var/lib/quantrac \
      --shell /usr/sbin/nologin quantrac \
 && install -d -o quantrac -g quantrac -m 0750 /var/lib/quantrac /var/backups/quantrac
COPY --from=build /opt/quantrac /opt/quantrac
ENV PATH=/opt/quantrac/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QUANTRAC_DATA_DIR=/var/lib/quantrac
USER quantrac:quantrac
WORKDIR /var/lib/quantrac
# A named volume mounted here starts with this folder's owner: the quantrac user.
VOLUME ["/var/lib/quantrac"]
# API, the health endpoints of gateway / collector / alerting, the TT10 FTP endpoint.
EXPOSE 8000 9101 9102 9103 2121
ENTRYPOINT ["quantrac"]
CMD ["--help"]
