#!/usr/bin/env bash
# A real Asterisk 22 for tests and development, in a Debian sid chroot: Debian 12 has no Asterisk
# package, and sid's needs a newer libc than the host's. The chroot shares the host's network, so
# Asterisk on 127.0.0.1 reaches a FastAGI server on the host and the host reaches AMI.
#
#   asterisk-chroot.sh build   [ROOT]                   debootstrap sid + asterisk (45-60 s)
#   asterisk-chroot.sh start   ROOT CONFIG_DIR [AMI_SECRET] [TEST_SIP_PASSWORD]
#   asterisk-chroot.sh stop    [ROOT]
#   asterisk-chroot.sh destroy [ROOT]                   stop, unmount /proc, remove ROOT
#
# ROOT defaults to /var/cache/tongdai/asterisk-sid (start needs it spelled out). `start` copies
# CONFIG_DIR (normally deploy/asterisk) to ROOT/etc/asterisk-tongdai and runs
# CONFIG_DIR/generate.sh, which writes the secrets and site values into
# ROOT/etc/asterisk-generated from the environment (TONGDAI_AMI_SECRET, TONGDAI_TEST_SIP_PASSWORD,
# TONGDAI_AGI_HOST, TONGDAI_AGI_PORT, TONGDAI_OPERATOR_ENDPOINT, ...; see generate.sh).
# AMI_SECRET and TEST_SIP_PASSWORD default to those variables, else to random values.
# Asterisk's output goes to ROOT/var/log/asterisk/tongdai-console.log; its PID to
# ROOT/run/tongdai-asterisk.pid. Only one Asterisk can run per machine (fixed ports 5038, 5060).
set -euo pipefail

DEFAULT_ROOT=/var/cache/tongdai/asterisk-sid
ETC_IN_ROOT=/etc/asterisk-tongdai
GENERATED_IN_ROOT=/etc/asterisk-generated
PID_IN_ROOT=/run/tongdai-asterisk.pid
CONSOLE_LOG_IN_ROOT=/var/log/asterisk/tongdai-console.log
START_TIMEOUT=30

die() { echo "asterisk-chroot: $*" >&2; exit 1; }
say() { echo "asterisk-chroot: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (debootstrap, chroot, mount)"

host_mirror() {
  local uri=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

mount_proc() {
  mountpoint -q "$1/proc" || mount -t proc proc "$1/proc"
}

umount_proc() {
  if mountpoint -q "$1/proc"; then umount "$1/proc" 2>/dev/null || umount -l "$1/proc"; fi
}

in_root() {  # ROOT command...
  local root=$1; shift
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    DEBIAN_FRONTEND=noninteractive "$@"
}

cmd_build() {
  local root=$1
  if [ -x "$root/usr/sbin/asterisk" ]; then
    say "$root already has Asterisk; not rebuilding"
    return
  fi
  if ! command -v debootstrap >/dev/null; then
    say "installing debootstrap on the host"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends debootstrap \
      >/dev/null
  fi
  # A half-built root (an interrupted run) cannot be resumed by debootstrap: start over.
  if [ -e "$root" ]; then
    say "removing the unfinished $root"
    umount_proc "$root"
    rm -rf --one-file-system "$root"
  fi
  mkdir -p "$(dirname "$root")"
  local mirror log
  mirror=$(host_mirror)
  log=$(mktemp /tmp/asterisk-chroot-build.XXXXXX.log)
  say "debootstrap sid from $mirror into $root (log: $log)"
  if ! debootstrap --variant=minbase sid "$root" "$mirror" >"$log" 2>&1; then
    tail -n 40 "$log" >&2
    [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 40 "$root/debootstrap/debootstrap.log" >&2
    die "debootstrap of sid failed (full log: $log)"
  fi
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 755 "$root/usr/sbin/policy-rc.d"
  cp /etc/hosts "$root/etc/hosts"
  cp -L /etc/resolv.conf "$root/etc/resolv.conf" 2>/dev/null || true
  mount_proc "$root"
  # The mirror's sid Release file can be past its Valid-Until date.
  local apt=(apt-get -o Acquire::Check-Valid-Until=false -o Acquire::Retries=3)
  say "installing asterisk in the chroot"
  if ! { in_root "$root" "${apt[@]}" update \
      && in_root "$root" "${apt[@]}" install -y --no-install-recommends asterisk asterisk-modules
    } >>"$log" 2>&1; then
    tail -n 60 "$log" >&2
    die "sid's asterisk could not be installed (full log: $log); the tests need it: fatal"
  fi
  in_root "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/*
  [ -x "$root/usr/sbin/asterisk" ] || die "asterisk is not in $root after the install (log: $log)"
  rm -f "$log"
  say "built: $(in_root "$root" asterisk -V)"
}

pid_of() {  # ROOT -> the recorded PID when that process still runs
  local file="$1$PID_IN_ROOT" pid
  [ -f "$file" ] || return 1
  pid=$(cat "$file")
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 1
  # After a reboot the number may belong to another program.
  [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = asterisk ] || return 1
  echo "$pid"
}

ami_banner() {  # -> 0 when 127.0.0.1:5038 greets with the AMI banner
  python3 - <<'EOF'
import socket, sys
try:
    with socket.create_connection(("127.0.0.1", 5038), timeout=1) as s:
        s.settimeout(1)
        sys.exit(0 if s.recv(64).startswith(b"Asterisk Call Manager/") else 1)
except OSError:
    sys.exit(1)
EOF
}

random_secret() {
  od -An -N16 -tx1 /dev/urandom | tr -d ' \n'
}

cmd_start() {
  local root=$1 config=${2:-}
  [ -n "$config" ] || die "usage: start ROOT CONFIG_DIR [AMI_SECRET] [TEST_SIP_PASSWORD]"
  [ -f "$config/asterisk.conf" ] || die "$config has no asterisk.conf"
  [ -x "$root/usr/sbin/asterisk" ] || die "no Asterisk in $root: run '$0 build $root' first"
  if pid_of "$root" >/dev/null; then
    die "Asterisk already runs in $root (PID $(pid_of "$root"))"
  fi
  if ami_banner; then die "something already answers on 127.0.0.1:5038"; fi

  export TONGDAI_AMI_SECRET=${3:-${TONGDAI_AMI_SECRET:-$(random_secret)}}
  export TONGDAI_TEST_SIP_PASSWORD=${4:-${TONGDAI_TEST_SIP_PASSWORD:-$(random_secret)}}

  rm -rf "${root:?}$ETC_IN_ROOT"
  mkdir -p "$root$ETC_IN_ROOT"
  cp -a "$config/." "$root$ETC_IN_ROOT/"
  # The shipped asterisk.conf points at /etc/asterisk (the container's place): only this differs.
  sed -i "s|^astetcdir *=>.*|astetcdir => $ETC_IN_ROOT|" "$root$ETC_IN_ROOT/asterisk.conf"
  bash "$config/generate.sh" "$root$GENERATED_IN_ROOT"

  mkdir -p "$root/var/spool/asterisk/recording/tongdai" "$root/usr/share/asterisk/sounds/tongdai" \
    "$root/var/log/asterisk" "$root/var/lib/asterisk" "$root/run/asterisk" "$root/var/run"
  cp /etc/hosts "$root/etc/hosts"
  mount_proc "$root"

  local log="$root$CONSOLE_LOG_IN_ROOT" pid
  # chroot and env exec Asterisk, so $! is Asterisk's own PID; setsid keeps it out of our process
  # group.
  setsid chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
    /usr/sbin/asterisk -f -n -C "$ETC_IN_ROOT/asterisk.conf" </dev/null >"$log" 2>&1 &
  pid=$!
  echo "$pid" >"$root$PID_IN_ROOT"
  local deadline=$((SECONDS + START_TIMEOUT))
  until ami_banner; do
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 40 "$log" >&2
      die "Asterisk exited during start-up (log: $log)"
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      tail -n 40 "$log" >&2
      cmd_stop "$root"
      die "AMI did not answer on 127.0.0.1:5038 within ${START_TIMEOUT} s (log: $log)"
    fi
    sleep 0.1
  done
  say "Asterisk runs in $root (PID $pid); AMI on 127.0.0.1:5038"
}

cmd_stop() {
  local root=$1 pid
  pid=$(pid_of "$root") || { rm -f "$root$PID_IN_ROOT"; return 0; }
  timeout 10 chroot "$root" /usr/sbin/asterisk -C "$ETC_IN_ROOT/asterisk.conf" \
    -rx 'core stop now' >/dev/null 2>&1 || true
  for signal in TERM KILL; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break 2; sleep 0.1; done
    kill "-$signal" "$pid" 2>/dev/null || true
  done
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  rm -f "$root$PID_IN_ROOT"
}

cmd_destroy() {
  local root=$1
  [ -d "$root" ] || return 0
  cmd_stop "$root"
  umount_proc "$root"
  mountpoint -q "$root/proc" && die "$root/proc is still mounted; not removing $root"
  rm -rf --one-file-system "$root"
}

command=${1:-}
shift || true
if [ "$command" = start ]; then
  [ $# -ge 2 ] || die "usage: $0 start ROOT CONFIG_DIR [AMI_SECRET] [TEST_SIP_PASSWORD]"
  root=$1
  shift
elif [ $# -ge 1 ]; then
  root=$1
else
  root=$DEFAULT_ROOT
fi
case "$command" in
  build) cmd_build "$root" ;;
  start) cmd_start "$root" "$@" ;;
  stop) cmd_stop "$root" ;;
  destroy) cmd_destroy "$root" ;;
  *) die "usage: $0 build|start|stop|destroy [ROOT] ..." ;;
esac
