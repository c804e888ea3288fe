# syntax=docker/dockerfile:1
# Klaxon image: one binary, `klaxon serve|ingest|detect|replay|...`.
# Node 24 runs the TypeScript sources directly (type stripping), so there is no
# compile stage: the build stage only installs production dependencies.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY patches ./patches
# --ignore-scripts: no dependency's install script runs (Klaxon has no native addons); Klaxon's own
# fixes to its dependencies (patches/, docs/operations.md) are applied explicitly, failing the build
# when one no longer applies.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && node_modules/.bin/patch-package --error-on-fail && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="klaxon" \
      org.opencontainers.image.description="Kubernetes audit-log and Falco event analyzer" \
      org.opencontainers.image.licenses="Apache-2.0"
# KLAXON_HOST: inside a container, loopback is unreachable from `docker run -p`; the
# container's network namespace is the boundary. serve/ingest still refuse to open
# without credentials (KLAXON_TOKENS_FILE or mTLS) and say so in one line.
ENV NODE_ENV=production \
    KLAXON_SPOOL_DIR=/var/lib/klaxon/spool \
    KLAXON_HOST=0.0.0.0
WORKDIR /app
COPY --from=deps --chown=0:0 /app/node_modules ./node_modules
COPY --chown=0:0 package.json ./
COPY --chown=0:0 bin ./bin
COPY --chown=0:0 src ./src
COPY --chown=0:0 detections ./detections
# The only writable paths are the spool volume and /tmp, so the container runs
# with a read-only root filesystem. The spool directory is created here, owned by
# the runtime user, so a fresh named volume mounted on it inherits that owner.
RUN mkdir -p /var/lib/klaxon/spool && chown -R 10001:10001 /var/lib/klaxon && chmod 0750 /var/lib/klaxon
# Application files stay root-owned and read-only to the process.
USER 10001:10001
VOLUME ["/var/lib/klaxon"]
EXPOSE 8080 8081
# No curl in the image: bin/healthcheck.js asks /healthz on KLAXON_PORT (8080), over
# HTTPS when KLAXON_TLS_CERT is set; detect sets KLAXON_HEALTH_URL to its port 8081.
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "bin/healthcheck.js"]
ENTRYPOINT ["node", "bin/klaxon.js"]
CMD ["serve"]
