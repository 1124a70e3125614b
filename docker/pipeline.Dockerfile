# syntax=docker/dockerfile:1
# egoimu pipeline image (CPU): `egoimu synth | build | extract-imu | audit | split-plan`, with Debian's ffmpeg
# and `pip install .[pipeline]` (dask with bokeh for its dashboard, decord, scipy, ...; no torch). Build from
# the repository root:
#   docker build -f docker/pipeline.Dockerfile -t egoimu-pipeline .
# decord 0.6.0 ships x86-64 Linux wheels only: on an ARM host add --platform linux/amd64.
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    EGOIMU_FFMPEG=/usr/bin/ffmpeg

RUN apt-get update \
 && apt-get install -y --no-install-recommends ffmpeg \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/egoimu
# Dependencies first, in a layer that survives edits to the sources (read from pyproject.toml).
COPY pyproject.toml ./
COPY docker/requirements.py /tmp/egoimu-requirements.py
RUN python /tmp/egoimu-requirements.py pipeline > /tmp/requirements.txt \
 && pip install -r /tmp/requirements.txt

COPY README.md ./
COPY manifests ./manifests
COPY egoimu ./egoimu
COPY pipeline ./pipeline
COPY train ./train
RUN pip install ".[pipeline]" \
 && egoimu --version \
 && python -m egoimu.extras pipeline \
 && python -c "import dask, decord; from egoimu.pipeline.ffmpeg_bin import ffmpeg_exe; print('ffmpeg:', ffmpeg_exe())"

# Mount the dataset root at /data and an output folder at /out (see docker/README.md).
# HOME: writable for any `--user uid:gid` (caches of dask, matplotlib, torch land in /tmp).
ENV HOME=/tmp
WORKDIR /out
ENTRYPOINT ["egoimu"]
CMD ["--help"]
