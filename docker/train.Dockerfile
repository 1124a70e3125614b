# syntax=docker/dockerfile:1
# egoimu training image (CUDA): `egoimu train | eval | audit` on prebuilt HDF5 shards, with
# `pip install .[train]` on top of the torch that the base image ships (never a torch from PyPI).
# No dask, decord or ffmpeg. Build from the repository root:
#   docker build -f docker/train.Dockerfile -t egoimu-train .
#   docker build -f docker/train.Dockerfile --build-arg BASE_IMAGE=pytorch/pytorch:<tag> -t egoimu-train .
# The base tag must carry torch >= 2.2 (pyproject.toml, extra `train`) and a CUDA build the host driver runs.
ARG BASE_IMAGE=pytorch/pytorch:2.5.1-cuda12.4-cudnn9-runtime
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /opt/egoimu
# torch stays the base image's: pip must see it installed, and a constraint pins it to that exact
# version, so a resolve can neither replace nor upgrade it (and fails instead of pulling a CUDA wheel).
COPY pyproject.toml ./
COPY docker/requirements.py /tmp/egoimu-requirements.py
RUN python -m pip show torch > /dev/null \
 && (python -c "import tomllib" 2> /dev/null || pip install tomli) \
 && python -c "import torch; print(f'torch=={torch.__version__}')" > /tmp/torch-constraint.txt \
 && python /tmp/egoimu-requirements.py train --exclude torch > /tmp/requirements.txt \
 && pip install -c /tmp/torch-constraint.txt -r /tmp/requirements.txt

COPY README.md ./
COPY manifests ./manifests
COPY egoimu ./egoimu
COPY pipeline ./pipeline
COPY train ./train
RUN pip install -c /tmp/torch-constraint.txt ".[train]" \
 && python -m egoimu.extras train \
 && python -c "import torch; assert f'torch=={torch.__version__}' == open('/tmp/torch-constraint.txt').read().strip()" \
 && egoimu --version \
 && python -c "import torch; print('torch', torch.__version__, 'CUDA', torch.version.cuda)"

# Mount the built shards at /data and an output folder at /out (see docker/README.md).
# HOME: writable for any `--user uid:gid` (caches of dask, matplotlib, torch land in /tmp).
ENV HOME=/tmp
WORKDIR /out
ENTRYPOINT ["egoimu"]
CMD ["--help"]
