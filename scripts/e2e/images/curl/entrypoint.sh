#!/bin/sh
# curlimages/curl's entrypoint: a first argument that is a flag or not a command goes to curl.
set -e
if [ "${1#-}" != "${1}" ] || [ -z "$(command -v "${1}")" ]; then
    set -- curl "$@"
fi
exec "$@"
