# syntax=docker/dockerfile:1
# The Tapline image: one image for the authorizer, the streamer (and its --migrate-only Job) and
# the reports service; the chart picks the entry point. Multi-stage: the build stage has the
# toolchain (TypeScript, buf, dev dependencies); the runtime stage has only what runs, owned by
# root and run as UID 10001, so the process cannot modify its own code, and it writes nothing to
# disk (the chart mounts /tmp as the only writable path on a read-only root filesystem).
#
#   docker build -t registry.example.com/tapline/tapline:0.1.0 .
#   (or: buildah bud -t ... .   /   podman build -t ... .)
#
# What was verified without a registry is in charts/tapline/README.md, "The image".

# Pin the base by digest in your CI (node:20.20.2-bookworm-slim@sha256:...) so a re-pushed tag
# cannot change what runs; the tag names the Node version the project is tested with.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
# Dependencies first, so the layer is reused while only sources change. `npm install` with the
# lockfile installs exactly the locked versions (`npm ci` refuses this lockfile: npm leaves other
# platforms' optional binaries out of it; see scripts/ensure-system-deps.sh).
COPY package.json package-lock.json ./
RUN npm install --no-audit --no-fund
COPY buf.yaml buf.gen.yaml tsconfig.json ./
COPY proto ./proto
COPY actors ./actors
COPY services ./services
COPY scripts/copy-assets.js scripts/build-descriptors.js scripts/assemble-image.js ./scripts/
# tsconfig also includes test/ and loadtest/; they are not copied, so only runtime code compiles.
RUN npm run build \
 && node scripts/assemble-image.js /image \
 && cd /image \
 && npm install --omit=dev --no-audit --no-fund --ignore-scripts \
 && rm -f package-lock.json

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# Root-owned and not writable by the runtime user.
COPY --from=build --chown=0:0 /image /app
# A numeric UID (not the base image's "node" user), so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
# gRPC, node-to-node, authorizer metrics, streamer metrics, reports HTTP.
EXPOSE 50051 50052 9464 9465 9470
# The authorizer by default; the chart sets the command of every workload explicitly:
#   node dist/services/streamer/main.js [--skip-migrations | --migrate-only]
#   node dist/services/reports/main.js
# Node runs as PID 1 and the services handle SIGTERM themselves (drain, flush, exit).
CMD ["node", "dist/services/authorizer/main.js"]
