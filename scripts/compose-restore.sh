#!/usr/bin/env bash
# Restore a backup of scripts/compose-backup.sh into a new stack (empty volumes), then start it.
#
#   scripts/compose-restore.sh DIR [docker compose options, e.g. --env-file .env]
#
# The database is restored before `migrate` runs, so a backup of an older release is upgraded by
# the usual start-up. The files keep their owners (tongdai, asterisk).
set -euo pipefail

dir=${1:?usage: compose-restore.sh DIR [docker compose options]}
shift
compose=(docker compose "$@")
[ -s "$dir/tongdai.dump" ] && [ -s "$dir/files.tar" ] || {
  echo "compose-restore: $dir has no tongdai.dump and files.tar" >&2
  exit 1
}
"${compose[@]}" up --detach --wait postgres
"${compose[@]}" exec -T postgres pg_restore -U tongdai -d tongdai --clean --if-exists \
  --no-owner --exit-on-error <"$dir/tongdai.dump"
# web mounts tongdai-data, asterisk the recording spool, both writable.
"${compose[@]}" run --rm --no-deps -T --user 0 --entrypoint tar web \
  --numeric-owner -C / -xpf - var/lib/tongdai <"$dir/files.tar"
"${compose[@]}" run --rm --no-deps -T --user 0 --entrypoint tar asterisk \
  --numeric-owner -C / -xpf - var/spool/asterisk/recording/tongdai <"$dir/files.tar"
"${compose[@]}" up --detach --wait
echo "compose-restore: restored from $dir"
