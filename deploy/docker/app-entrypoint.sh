#!/usr/bin/env bash
# Nothing runs here before the command: migrations are the one-shot `migrate` service and the
# prompt audio the one-shot `prompts` service (docker-compose.yml), so replicas never race on
# them. Kept as the image's entrypoint so a site can add a step without changing the image.
set -euo pipefail
exec "$@"
