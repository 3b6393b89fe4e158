#!/usr/bin/env bash
# Back up a running compose stack: the database and the audio the dossiers refer to.
#
#   scripts/compose-backup.sh DIR [docker compose options, e.g. --env-file .env]
#
# Writes DIR/tongdai.dump (pg_dump's custom format, taken while everything runs: one consistent
# snapshot) and DIR/files.tar (the tongdai-data volume: recordings, staff prompt recordings, the
# console SMS log; and Asterisk's recording spool). Prompt audio is not kept: the `prompts`
# service builds it again. Run from the folder of docker-compose.yml; restore with
# scripts/compose-restore.sh.
set -euo pipefail

dir=${1:?usage: compose-backup.sh DIR [docker compose options]}
shift
compose=(docker compose "$@")
mkdir -p "$dir"
"${compose[@]}" exec -T postgres pg_dump -U tongdai -d tongdai --format=custom >"$dir/tongdai.dump"
# The agi service mounts both volumes; a throw-away container of it reads them as root.
"${compose[@]}" run --rm --no-deps -T --user 0 --entrypoint tar agi \
  --numeric-owner -C / -cf - var/lib/tongdai var/spool/asterisk/recording/tongdai \
  >"$dir/files.tar"
echo "compose-backup: $(du -sh "$dir" | cut -f1) in $dir"
