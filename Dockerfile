# syntax=docker/dockerfile:1
# One image for every GridStream service; the command picks the service:
#   docker run gridstream:local gridstream service smart-ingestor
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# ---- build: install the package and its dependencies into a venv -------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONDONTWRITEBYTECODE=1
# gcc: only here, to build the forecaster's tree kernel once (portable: no -march=native);
# the runtime image has no compiler and loads it from GRIDSTREAM_KERNEL_PREBUILT
RUN apt-get update \
 && apt-get install -y --no-install-recommends gcc libc6-dev \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/gridstream
WORKDIR /build
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/gridstream/bin/pip install --upgrade pip \
 && /opt/gridstream/bin/pip install . \
 && /opt/gridstream/bin/python -m compileall -q /opt/gridstream/lib \
 && /opt/gridstream/bin/python -m gridstream.core.forecasting.kernel_build /opt/gridstream/kernels

# ---- runtime: the venv, the health probe, a non-root user; no compilers, no pip cache -----
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="gridstream" \
      org.opencontainers.image.description="GridStream services: real-time forecasting and control for Ireland's grid"
# libgomp1: OpenMP runtime that LightGBM's wheel links against.
RUN apt-get update \
 && apt-get install -y --no-install-recommends libgomp1 \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 gridstream \
 && useradd --system --uid 10001 --gid gridstream --home-dir /var/lib/gridstream gridstream \
 && mkdir -p /var/lib/gridstream/models /var/lib/gridstream/history \
 && chown -R gridstream:gridstream /var/lib/gridstream
COPY --from=build /opt/gridstream /opt/gridstream
COPY deploy/docker/ready.py /opt/gridstream/ready.py
ENV PATH=/opt/gridstream/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    GRIDSTREAM_HTTP_HOST=0.0.0.0 \
    GRIDSTREAM_STATE_DIR=/var/lib/gridstream \
    GRIDSTREAM_KERNEL_PREBUILT=/opt/gridstream/kernels \
    GRIDSTREAM_LOG_FORMAT=json
USER gridstream
WORKDIR /var/lib/gridstream
EXPOSE 5100 5101 5102 5103 5104 5105 5106 5110 5111 8080
# /ready of the service this container runs (its port comes from its command line).
HEALTHCHECK --interval=15s --timeout=5s --start-period=90s --retries=4 \
  CMD ["python", "/opt/gridstream/ready.py"]
CMD ["gridstream", "--help"]
