#!/usr/bin/env bash
# A container engine and the base images for docker-compose.yml, on a Debian machine (as root).
#
#   docker-provision.sh engine          Debian's docker.io, dockerd started when it is not
#                                       running, Compose v2 (`docker compose`)
#   docker-provision.sh images ENVFILE  base images; appends to ENVFILE the TONGDAI_*_IMAGE
#                                       lines that point the build at them
#
# `images`: where a registry answers, nothing is built and ENVFILE keeps the public images the
# Dockerfiles name by default (python:3.11-slim, debian:sid-slim, postgres:16). Where none
# answers (this project's test machines), it builds local ones instead:
#   tongdai-base/debian:bookworm-slim  debootstrap --variant=minbase bookworm, `docker import`ed
#   tongdai-base/asterisk:sid          the sid root of scripts/asterisk-chroot.sh (Asterisk 22
#                                      already installed), without its run-time state
#   tongdai-postgres:15                deploy/docker/Dockerfile.postgres on the bookworm base:
#                                      Debian's PostgreSQL 15, the official image's variables
# The roots are kept under /var/cache/tongdai, the images in Docker's store: a second run
# builds nothing.
#
# Compose v2 is packaged only in Debian's development suite (package docker-compose, a Go
# binary needing libc ≥ 2.34): it is fetched from there with a throw-away apt state, leaving the
# machine's own sources alone.
set -euo pipefail

CACHE=/var/cache/tongdai
DOCKERD_LOG=/var/log/tongdai-dockerd.log
BASE_DEBIAN=tongdai-base/debian:bookworm-slim
BASE_ASTERISK=tongdai-base/asterisk:sid
POSTGRES_LOCAL=tongdai-postgres:15
REPO=$(cd "$(dirname "$0")/.." && pwd)

die() { echo "docker-provision: $*" >&2; exit 1; }
say() { echo "docker-provision: $*" >&2; }

[ "$(id -u)" = 0 ] || die "must run as root (apt-get, dockerd, debootstrap)"
export DEBIAN_FRONTEND=noninteractive

host_mirror() {
  local uri=""
  if [ -r /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ { for (i = 2; i <= NF; i++) if ($i !~ /security/) { print $i; exit } }' \
      /etc/apt/sources.list.d/debian.sources)
  fi
  echo "${uri:-http://deb.debian.org/debian}"
}

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then apt-get update -qq; apt_updated=1; fi
  apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

install_compose_from_sid() {
  local state
  state=$(mktemp -d /tmp/docker-provision-apt.XXXXXX)
  mkdir -p "$state/lists/partial" "$state/archives/partial"
  echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $(host_mirror) sid main" \
    >"$state/sources.list"
  local apt=(-o "Dir::Etc::SourceList=$state/sources.list" -o Dir::Etc::SourceParts=/nonexistent
    -o "Dir::State::Lists=$state/lists" -o "Dir::Cache::Archives=$state/archives"
    -o Acquire::Check-Valid-Until=false -o Acquire::Retries=3 -o APT::Sandbox::User=root)
  apt-get "${apt[@]}" update -qq
  (cd "$state" && apt-get "${apt[@]}" download docker-compose >/dev/null)
  dpkg -i "$state"/docker-compose_*.deb >/dev/null
  rm -rf "$state"
}

docker_answers() { docker info >/dev/null 2>&1; }

cmd_engine() {
  if ! command -v dockerd >/dev/null; then
    say "installing Debian's docker.io"
    apt_install docker.io iptables ca-certificates
  fi
  if ! docker_answers; then
    say "starting dockerd (log: $DOCKERD_LOG)"
    # No systemd on these machines: dockerd runs on its own, in its own session.
    setsid dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    for _ in $(seq 1 60); do docker_answers && break; sleep 0.5; done
    docker_answers || { tail -n 30 "$DOCKERD_LOG" >&2; die "dockerd did not start"; }
  fi
  if ! docker compose version >/dev/null 2>&1; then
    say "installing Compose v2 (docker-compose from Debian sid)"
    install_compose_from_sid
  fi
  docker compose version >/dev/null || die "docker compose does not run"
  say "$(docker version --format 'engine {{.Server.Version}}') with $(docker compose version)"
}

registry_answers() {  # IMAGE -> 0 when it is here or can be pulled
  docker image inspect "$1" >/dev/null 2>&1 || timeout 120 docker pull -q "$1" >/dev/null 2>&1
}

import_root() {  # ROOT IMAGE [tar exclusions...]
  local root=$1 image=$2
  shift 2
  tar -C "$root" --numeric-owner --one-file-system "$@" -c . | docker import - "$image" >/dev/null
}

build_debian_base() {
  docker image inspect "$BASE_DEBIAN" >/dev/null 2>&1 && return
  local root="$CACHE/docker-base/bookworm"
  if [ ! -x "$root/usr/bin/apt-get" ] || [ -e "$root/debootstrap" ]; then
    command -v debootstrap >/dev/null || apt_install debootstrap
    rm -rf --one-file-system "$root"
    mkdir -p "$(dirname "$root")"
    say "debootstrap bookworm into $root"
    debootstrap --variant=minbase bookworm "$root" "$(host_mirror)" >"$root.log" 2>&1 \
      || { tail -n 30 "$root.log" >&2; die "debootstrap of bookworm failed (log: $root.log)"; }
    # The image's apt must not keep the build machine's package lists.
    rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
  fi
  say "importing $BASE_DEBIAN"
  import_root "$root" "$BASE_DEBIAN"
}

build_asterisk_base() {
  docker image inspect "$BASE_ASTERISK" >/dev/null 2>&1 && return
  local root="$CACHE/asterisk-sid"
  bash "$REPO/scripts/asterisk-chroot.sh" build "$root"
  say "importing $BASE_ASTERISK from $root"
  # Not the tests' state: their configuration and secrets, prompts, recordings, logs, PID files.
  import_root "$root" "$BASE_ASTERISK" --exclude=./proc --exclude=./etc/asterisk-tongdai \
    --exclude=./etc/asterisk-generated --exclude='./run/*' --exclude='./var/log/asterisk/*' \
    --exclude=./var/spool/asterisk/recording/tongdai --exclude=./usr/share/asterisk/sounds/tongdai
}

cmd_images() {
  local envfile=${1:?usage: docker-provision.sh images ENVFILE}
  docker_answers || die "no Docker engine: run '$0 engine' first"
  # The image trusts what this machine trusts (deploy/docker/trust/README.md).
  if [ -r /etc/ssl/certs/ca-certificates.crt ]; then
    cp /etc/ssl/certs/ca-certificates.crt "$REPO/deploy/docker/trust/build-host.crt"
  fi
  local app_base=python:3.11-slim asterisk_base=debian:sid-slim postgres=postgres:16
  if registry_answers "$app_base" && registry_answers "$asterisk_base" \
    && registry_answers "$postgres"; then
    say "the public base images are available"
  else
    say "no registry answers: building local base images"
    build_debian_base
    build_asterisk_base
    if ! docker image inspect "$POSTGRES_LOCAL" >/dev/null 2>&1; then
      say "building $POSTGRES_LOCAL"
      docker build -q -t "$POSTGRES_LOCAL" --build-arg "BASE_IMAGE=$BASE_DEBIAN" \
        -f "$REPO/deploy/docker/Dockerfile.postgres" "$REPO" >/dev/null
    fi
    app_base=$BASE_DEBIAN
    asterisk_base=$BASE_ASTERISK
    postgres=$POSTGRES_LOCAL
  fi
  {
    echo "TONGDAI_APP_BASE_IMAGE=$app_base"
    echo "TONGDAI_PROXY_BASE_IMAGE=$([ "$app_base" = "$BASE_DEBIAN" ] && echo "$BASE_DEBIAN" \
      || echo debian:bookworm-slim)"
    echo "TONGDAI_ASTERISK_BASE_IMAGE=$asterisk_base"
    echo "TONGDAI_POSTGRES_IMAGE=$postgres"
  } >>"$envfile"
}

case "${1:-}" in
  engine) cmd_engine ;;
  images) cmd_images "${2:-}" ;;
  *) die "usage: $0 engine | images ENVFILE" ;;
esac
