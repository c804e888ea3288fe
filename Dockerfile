# syntax=docker/dockerfile:1
# Klaxon image: one binary, `klaxon serve|ingest|detect|replay|...`.
# Node 24 runs the TypeScript sources directly (type stripping), so there is no
# compile stage: the build stage only installs production dependencies.
ARG NODE_IMAGE=node:24.11.1-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: Klaxon has no native addons; nothing needs to run at install.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
LABEL org.opencontainers.image.title="klaxon" \
      org.opencontainers.image.description="Kubernetes audit-log and Falco event analyzer" \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production \
    KLAXON_SPOOL_DIR=/var/lib/klaxon/spool \
    KLAXON_HEALTH_URL=http://127.0.0.1:8080/healthz
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
# No curl in the image: Node's fetch checks the health endpoint. KLAXON_HEALTH_URL
# is set per process (ingest 8080, detect 8081).
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(process.env.KLAXON_HEALTH_URL).then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "bin/klaxon.js"]
CMD ["serve"]
