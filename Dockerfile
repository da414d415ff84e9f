# metal3-apiserver image. Node 24 runs the TypeScript sources directly (type stripping), so there is
# no compile step: the build stage only installs the production dependencies.
#
#   docker build -t metal3-apiserver:dev .
#
# Debian bookworm in both stages, so the installed modules match the runtime's libc.

FROM node:24-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev keeps the type checker, linters and test tools (and the pinned `node` package) out;
# --ignore-scripts: no dependency needs an install script, and none gets to run one.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# Distroless: no shell, no package manager; the nonroot tag runs as 65532:65532.
FROM gcr.io/distroless/nodejs24-debian12:nonroot
WORKDIR /app
ENV NODE_ENV=production
# Stripped TypeScript and compiled code survive restarts here (the manifests mount /tmp as an emptyDir):
# without it every start strips and compiles the whole module graph again.
ENV NODE_COMPILE_CACHE=/tmp/metal3-apiserver-compile-cache
# /app is root's and read-only to us; a plain `docker run` keeps its state in the user's home and
# listens beyond the container's loopback. The manifests pass --data-dir and --bind-address anyway.
ENV METAL3_DATA_DIR=/home/nonroot/metal3 \
    METAL3_BIND_ADDRESS=0.0.0.0
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY api ./api
COPY apiserver ./apiserver
COPY webhooks ./webhooks
COPY reconcilers ./reconcilers
COPY cmd ./cmd
USER 65532:65532
# 6443: the API (behind kube-apiserver's aggregator); 9443: AdmissionReview webhooks (--webhook-port).
EXPOSE 6443 9443
ENTRYPOINT ["/nodejs/bin/node", "cmd/metal3-apiserver.ts"]
