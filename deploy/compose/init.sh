#!/bin/sh
# The compose stack's one-shot setup, run as root in the Lookout image by the `secrets` and `regions`
# services. Every step keeps what an earlier `up` made, so `docker compose up` is safe to repeat.
#
#   init.sh secrets     the Redis admin password, made once: /admin/redis-auth.conf (Redis includes it),
#                       /admin/sentinel-auth.conf (the HA variant's Sentinels append it) and
#                       /admin/coordinator.env (LOOKOUT_REDIS_URL with it, for coordinators and init)
#   init.sh regions R…  each region's own Redis user (lookout region add), its agent settings written to
#                       /regions/R/agent.env: the only volume that region's agents mount
set -eu
say() { printf 'lookout init: %s\n' "$*" >&2; }
step=${1:?usage: init.sh secrets | regions <region>...}
shift

case "$step" in
secrets)
  umask 077
  if [ -s /admin/coordinator.env ] && [ -s /admin/redis-auth.conf ] && [ -s /admin/sentinel-auth.conf ]; then
    say "the Redis admin password exists; kept"
  else
    password=$(node -e "process.stdout.write(require('node:crypto').randomBytes(24).toString('base64url'))")
    # masterauth too: a replica, or a primary demoted by Sentinel, authenticates to the primary with it.
    printf 'requirepass %s\nmasterauth %s\n' "$password" "$password" > /admin/redis-auth.conf.new
    printf 'sentinel auth-pass lookout %s\n' "$password" > /admin/sentinel-auth.conf.new
    printf 'LOOKOUT_REDIS_URL=redis://:%s@%s\n' "$password" "${LOOKOUT_REDIS_ADDRESS:-redis:6379}" > /admin/coordinator.env.new
    mv /admin/redis-auth.conf.new /admin/redis-auth.conf
    mv /admin/coordinator.env.new /admin/coordinator.env
    mv /admin/sentinel-auth.conf.new /admin/sentinel-auth.conf
    say "made the Redis admin password"
  fi
  # Redis (its image's own user) and the coordinators (uid 10001) read these; only they and the init
  # services mount this volume.
  chmod 0444 /admin/redis-auth.conf /admin/coordinator.env /admin/sentinel-auth.conf
  ;;
regions)
  [ $# -gt 0 ] || { say "regions: name at least one region"; exit 2; }
  for region in "$@"; do
    dir=/regions/$region
    [ -d "$dir" ] || { say "no volume is mounted at $dir for region $region"; exit 2; }
    # add answers REGION_EXISTS when the region is registered already: keep its settings if we have them,
    # else (a lost volume) give it a new password and retire the old ones.
    if lookout region add "$region" > "$dir/agent.env.new" 2> "$dir/add.err"; then
      say "registered region $region"
    elif grep -q REGION_EXISTS "$dir/add.err"; then
      if [ -s "$dir/agent.env" ]; then
        say "region $region is registered and its settings exist; kept"
        rm -f "$dir/agent.env.new" "$dir/add.err"
        continue
      fi
      lookout region rotate "$region" > "$dir/agent.env.new"
      lookout region rotate "$region" --finish >&2
      say "region $region was registered but its settings were lost: new password"
    else
      cat "$dir/add.err" >&2
      rm -f "$dir/agent.env.new" "$dir/add.err"
      exit 1
    fi
    rm -f "$dir/add.err"
    chown 10001:10001 "$dir/agent.env.new"
    chmod 0400 "$dir/agent.env.new"
    mv "$dir/agent.env.new" "$dir/agent.env"
  done
  ;;
*) say "unknown step $step"; exit 2 ;;
esac
