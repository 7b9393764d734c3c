# llmtap as a container: `docker build -t llmtap .`, then
# `docker run -p 8780:8780 -v llmtap-data:/data llmtap` and point OPENAI_BASE_URL at http://localhost:8780/v1.
# Plain Dockerfile syntax only (no BuildKit-only features), so the legacy builder builds it too.

# One pinned base for both stages: the native better-sqlite3 addon compiled in the build stage is then
# linked against the same glibc that runs it.
FROM node:20.20.2-bookworm-slim AS base
WORKDIR /app

FROM base AS build
# Compilers for better-sqlite3, for when no prebuilt addon can be downloaded for this platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
# Compile (the bin executable, for the `llmtap` command), drop devDependencies, and keep only
# better-sqlite3's compiled addon (its C sources and build intermediates are ~25 MB that nothing reads at run time).
RUN npm run build \
 && chmod 755 dist/cli.js \
 && npm prune --omit=dev --no-audit --no-fund \
 && cd node_modules/better-sqlite3 \
 && rm -rf deps src \
 && find build -type f ! -path build/Release/better_sqlite3.node -delete \
 && find build -type d -empty -delete

FROM base AS runtime
# tini as PID 1 forwards SIGTERM to node (which drains and exits 0) and reaps zombies. `llmtap` on the
# PATH runs the CLI beside the server: `docker exec <container> llmtap outbox`.
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini \
 && apt-get clean \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir /data \
 && chown node:node /data \
 && ln -s /app/dist/cli.js /usr/local/bin/llmtap
ENV LLMTAP_HOST=0.0.0.0 \
    LLMTAP_DB_PATH=/data/llmtap.db
# Root-owned and read-only for the runtime user; only /data is writable. The whole of dist comes
# along, whatever the build puts there.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
USER node
VOLUME /data
EXPOSE 8780
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.LLMTAP_PORT || 8780) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["tini", "--", "node", "dist/cli.js"]
CMD ["serve"]
