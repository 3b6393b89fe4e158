#!/usr/bin/env bash
# The web service migrates the database before it serves; the agi service builds the prompt audio
# (skipped for prompts already built) into the volume Asterisk plays them from.
set -euo pipefail

case "${1:-} ${2:-}" in
  "tongdai web") tongdai db upgrade ;;
  "tongdai agi") tongdai prompts build --quiet ;;
esac
exec "$@"
