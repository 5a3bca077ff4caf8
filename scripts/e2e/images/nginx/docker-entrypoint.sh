#!/bin/sh
# The official nginx image's entrypoint, reduced: for `nginx` / `nginx-debug`
# run the executable *.sh of /docker-entrypoint.d/ in order, then exec the
# command. (The official image ships scripts there for templates/envsubst,
# IPv6 and worker tuning; this stand-in ships none.)
set -e
if [ "$1" = nginx ] || [ "$1" = nginx-debug ]; then
    for f in /docker-entrypoint.d/*.sh; do
        [ -e "$f" ] || continue
        if [ -x "$f" ]; then
            [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: launching $f"
            "$f"
        else
            [ -n "${NGINX_ENTRYPOINT_QUIET_LOGS:-}" ] || echo "$0: ignoring $f, not executable"
        fi
    done
fi
exec "$@"
