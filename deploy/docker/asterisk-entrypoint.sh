#!/usr/bin/env bash
# Writes the secrets and addresses (TONGDAI_AMI_SECRET, TONGDAI_SIP_BIND, TONGDAI_AGI_HOST, ...)
# into /etc/asterisk-generated, outside the read-only configuration mount, then starts Asterisk.
set -euo pipefail

bash /etc/asterisk/generate.sh /etc/asterisk-generated
# Asterisk reads its module configuration after it has dropped to the asterisk user.
chgrp -R asterisk /etc/asterisk-generated
chmod 750 /etc/asterisk-generated
chmod 640 /etc/asterisk-generated/*.conf
# No systemd here to create the runtime folder (control socket) as the package expects.
install -d -o asterisk -g asterisk /var/run/asterisk
exec "$@"
