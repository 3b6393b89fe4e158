#!/usr/bin/env bash
# Runs as the asterisk user (Dockerfile.asterisk). Writes the secrets and addresses
# (TONGDAI_AMI_SECRET, TONGDAI_SIP_BIND, TONGDAI_AGI_HOST, ...) into /etc/asterisk-generated (a
# tmpfs in docker-compose.yml), outside the read-only configuration mount, then starts Asterisk.
set -euo pipefail

# The files generate.sh writes are the asterisk user's alone (its umask 077).
bash /etc/asterisk/generate.sh /etc/asterisk-generated

# Recordings are personal data: readable by Asterisk and one group only. The recordings volume
# belongs to TONGDAI_RECORDINGS_GID (docker-compose.yml gives that group to Asterisk, the agi
# containers, which read the recordings, and the scheduler, whose retention deletes them);
# setgid, so each new recording gets that group. A volume made by an older release is brought
# into line here, at every start.
recordings=/var/spool/asterisk/recording/tongdai
if [ -n "${TONGDAI_RECORDINGS_GID:-}" ]; then
  if ! chgrp "$TONGDAI_RECORDINGS_GID" "$recordings" || ! chmod 2770 "$recordings"; then
    echo "asterisk-entrypoint: cannot give $recordings to group $TONGDAI_RECORDINGS_GID:" \
      "retention will not be able to delete Asterisk's recordings" >&2
  fi
  umask 0007
fi
exec "$@"
