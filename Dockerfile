# syntax=docker/dockerfile:1
# The worker image: the base install only (onnxruntime, tokenizers, numpy, boto3, pydantic; no
# torch), running as a non-root user. Model artifacts are never baked in: an init container
# fetches them from S3 into a shared volume (k8s/base/deployment.yaml).
#
# Multi-arch, one command (docs/DEPLOY.md):
#   docker buildx build --platform linux/amd64,linux/arm64 -t <registry>/ticket-enrich-worker:0.1.0 --push .
# Every dependency ships wheels for both architectures, so each platform's stages only install
# wheels (under emulation on a foreign builder) and nothing is compiled.

ARG PYTHON_VERSION=3.11

# ---- build: a virtual environment with the package and its runtime dependencies --------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
# Only what the base install needs: the serve-time packages, not export/, tests/ or artifacts/.
# (README.m[d]: pyproject names it as the long description; the glob lets a checkout without
# one still build.)
COPY pyproject.toml README.m[d] ./
COPY runtime/ runtime/
COPY worker/ worker/
COPY ticket_schema/ ticket_schema/
COPY ticket_enrich/ ticket_enrich/
# `.` and not `.[export]`: the export extra (torch, transformers, optimum) stays out of the image.
RUN /opt/venv/bin/pip install . \
    && /opt/venv/bin/python -c "import importlib.util as u, sys; sys.exit(any(u.find_spec(m) for m in ('torch', 'transformers', 'optimum')))"

# ---- run ------------------------------------------------------------------------------------
FROM python:${PYTHON_VERSION}-slim-bookworm AS run
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="ticket-enrich-worker" \
      org.opencontainers.image.description="Ticket enrichment worker: SQS -> ONNX on CPU -> DynamoDB + S3" \
      org.opencontainers.image.version="${VERSION}"
RUN groupadd --system --gid 10001 worker \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin worker
COPY --from=build /opt/venv /opt/venv
# The root filesystem is read-only in the pod: no bytecode writes, caches and temp files in /tmp
# (an emptyDir there); artifacts arrive in /models (another emptyDir).
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HOME=/tmp \
    TICKET_ENRICH_ARTIFACTS=/models \
    TICKET_ENRICH_HTTP_PORT=8080
USER 10001:10001
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["ticket-enrich"]
CMD ["worker", "--artifacts", "/models"]
