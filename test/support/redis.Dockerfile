# A stand-in for the official `redis:7` image, for tests here (no image registry is reachable): Debian's
# redis-server and redis-sentinel, run as the redis user in /data, as the official image does.
ARG BASE=debian:bookworm-slim
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server redis-sentinel >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown redis:redis /data
USER redis
WORKDIR /data
EXPOSE 6379 26379
CMD ["redis-server"]
