# emailplatform as a container image: the wheel, built in a first stage, installed with the locked dependencies
# into a slim Python, run as a user of its own. The same steps as tests/test_install.py (build, install, migrate,
# serve), which is how they are tested here: this project's machines have no container engine.
#
#   docker build -t emailplatform .
#   docker run -p 8000:8000 -v emailplatform-data:/data emailplatform      # the embedded default, data in /data
#   docker compose up                                                        # the scale-out deployment: compose.yaml

ARG PYTHON=3.11

FROM python:${PYTHON}-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir --disable-pip-version-check "build>=1.6,<2"
COPY pyproject.toml README.md ./
COPY src ./src
RUN python -m build --outdir /dist .

FROM python:${PYTHON}-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements/serve.lock /tmp/serve.lock
COPY --from=build /dist/*.whl /tmp/
RUN pip install --constraint /tmp/serve.lock /tmp/*.whl && rm /tmp/*.whl /tmp/serve.lock \
    && useradd --system --uid 10001 --user-group --home-dir /data --no-create-home emailplatform \
    && mkdir /data && chown emailplatform:emailplatform /data
USER emailplatform
WORKDIR /data
# The data dir holds the embedded default's SQLite database, files and generated secret key: keep it on a volume.
# The bounce listener takes connections from other machines (point the bounce domain's MX at port 2525).
ENV EMAILPLATFORM_DATA_DIR=/data EMAILPLATFORM_INBOUND_HOST=0.0.0.0 EMAILPLATFORM_LOG_JSON=true
VOLUME /data
EXPOSE 8000 2525
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import urllib.request as u; u.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]
CMD ["emailplatform", "serve", "--host", "0.0.0.0", "--port", "8000"]
