#!/usr/bin/env bash
# Builds local stand-ins for the public base images that the Dockerfiles' FROM lines name,
# for machines that reach Debian's package mirror but no image registry. Each stand-in is
# Debian 12 (debootstrap --variant=minbase bookworm) plus Debian's JDK and Maven (build image)
# or JRE (runtime image), laid out like the Temurin images (JAVA_HOME=/opt/java/openjdk), or
# nothing more (debian:bookworm-slim, the base of deploy/prometheus/Dockerfile, the compose
# demo's monitoring profile), and `docker import`ed under the exact public name, so the
# Dockerfiles stay the ones users run.
#
# A tag that already exists is left alone (a real image pulled from a registry included).
# Root file systems are cached as tarballs under HANDOFF_IMAGE_CACHE (default
# /var/cache/handoff-images) and reused between runs; delete that folder to rebuild them.
#
# Usage: scripts/docker-base-images.sh            (needs root, debootstrap and a running dockerd)
#   HANDOFF_DEBIAN_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   HANDOFF_EXTRA_CA_DIR    *.crt files that the build image trusts besides Debian's CAs
#                           (default: this machine's own, /usr/local/share/ca-certificates).
#                           Where outgoing HTTPS passes a TLS-inspecting egress proxy, the Maven
#                           build stage reaches Maven Central only if it trusts that proxy's CA,
#                           as the host does; the public maven image would need the same there.
#                           Set it to an empty folder to leave them out.
set -euo pipefail

BUILD_TAG=maven:3.9-eclipse-temurin-17   # keep in step with the Dockerfile's FROM lines
RUNTIME_TAG=eclipse-temurin:17-jre
DEBIAN_TAG=debian:bookworm-slim          # keep in step with deploy/prometheus/Dockerfile
cache=${HANDOFF_IMAGE_CACHE:-/var/cache/handoff-images}
mirror=${HANDOFF_DEBIAN_MIRROR:-http://deb.debian.org/debian}
extra_ca_dir=${HANDOFF_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
security_mirror=${mirror%/debian}/debian-security

log() { printf '[base-images %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }

have_tag() { docker image inspect "$1" >/dev/null 2>&1; }

if have_tag "$BUILD_TAG" && have_tag "$RUNTIME_TAG" && have_tag "$DEBIAN_TAG"; then
  log "$BUILD_TAG, $RUNTIME_TAG and $DEBIAN_TAG present; nothing to do"
  exit 0
fi
[[ $(id -u) -eq 0 ]] || { log "must run as root (debootstrap, chroot)"; exit 1; }
mkdir -p "$cache"

mounted=()
cleanup() {
  local m
  for m in "${mounted[@]}"; do umount -l "$m" 2>/dev/null || true; done
}
trap cleanup EXIT

# The pristine Debian minbase tree, made once.
minbase() {
  local dir=$cache/minbase
  if [[ -f $dir/.complete ]]; then return; fi
  command -v debootstrap >/dev/null || { log "debootstrap missing: apt-get install debootstrap"; exit 1; }
  rm -rf "$dir"
  log "debootstrap --variant=minbase bookworm (about 40 s)"
  local t0=$SECONDS
  debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$cache/debootstrap.log" 2>&1 || {
    tail -20 "$cache/debootstrap.log" >&2; log "debootstrap failed (log: $cache/debootstrap.log)"; exit 1; }
  cat >"$dir/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security_mirror bookworm-security main
EOF
  touch "$dir/.complete"
  log "minbase done in $((SECONDS - t0)) s"
}

extra_cas() { find "$extra_ca_dir" -maxdepth 1 -name '*.crt' -type f 2>/dev/null | sort; }

# rootfs NAME CAS PACKAGES...: minbase + packages (+ the extra CAs when CAS is yes), as
# $cache/NAME.tar; the name carries a digest of the CAs, so a change of them makes a new one.
rootfs_tar() {
  local name=$1 cas=$2 digest=none
  if [[ $cas == yes ]] && [[ -n $(extra_cas) ]]; then
    digest=$(extra_cas | xargs cat | sha256sum | cut -c1-12)
  fi
  echo "$cache/$name-ca-$digest.tar"
}
rootfs() {
  local name=$1 cas=$2; shift 2
  local tar; tar=$(rootfs_tar "$name" "$cas")
  if [[ -s $tar ]]; then return; fi
  minbase
  local dir=$cache/work-$name
  rm -rf "$dir"
  cp -a "$cache/minbase" "$dir"
  rm -f "$dir/.complete"
  if [[ $cas == yes ]] && [[ -n $(extra_cas) ]]; then
    mkdir -p "$dir/usr/local/share/ca-certificates"
    extra_cas | xargs -I{} cp {} "$dir/usr/local/share/ca-certificates/"
    log "$name: adding $(extra_cas | wc -l) CA certificate(s) from $extra_ca_dir"
    set -- "$@" ca-certificates ca-certificates-java
  fi
  cp /etc/resolv.conf "$dir/etc/resolv.conf"
  mount -t proc proc "$dir/proc"; mounted+=("$dir/proc")
  log "$name: installing $* (about 20-60 s)"
  local t0=$SECONDS
  # Don't let package scripts start services inside the chroot.
  printf '#!/bin/sh\nexit 101\n' >"$dir/usr/sbin/policy-rc.d"; chmod +x "$dir/usr/sbin/policy-rc.d"
  chroot "$dir" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive \
    sh -c 'apt-get update -q && apt-get install -y -q --no-install-recommends "$@" && apt-get clean &&
      if command -v update-ca-certificates >/dev/null; then update-ca-certificates; fi' \
    sh "$@" >"$cache/$name-apt.log" 2>&1 || {
    tail -20 "$cache/$name-apt.log" >&2; log "$name: apt-get failed (log: $cache/$name-apt.log)"; exit 1; }
  umount "$dir/proc"; unset 'mounted[-1]'
  rm -f "$dir/usr/sbin/policy-rc.d"
  rm -rf "$dir"/var/lib/apt/lists/* "$dir"/var/cache/apt/*.bin "$dir"/tmp/* "$dir"/var/log/apt/*
  : >"$dir/etc/resolv.conf"   # docker bind-mounts its own at run time
  # Lay the JDK out where the Temurin images keep theirs.
  mkdir -p "$dir/opt/java"
  ln -s /usr/lib/jvm/java-17-openjdk-amd64 "$dir/opt/java/openjdk"
  tar --numeric-owner -C "$dir" -cf "$tar.tmp" .
  mv "$tar.tmp" "$tar"
  rm -rf "$dir"
  log "$name: done in $((SECONDS - t0)) s ($(du -h "$tar" | cut -f1))"
}

# import TAR TAG [extra --change ...]: docker import TAR as TAG
import() {
  local tar=$1 tag=$2; shift 2
  local t0=$SECONDS
  docker import \
    --change 'ENV JAVA_HOME=/opt/java/openjdk' \
    --change 'ENV PATH=/opt/java/openjdk/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    "$@" \
    --message "local stand-in for $tag: Debian 12 minbase + Debian's OpenJDK 17" \
    "$tar" "$tag" >/dev/null
  log "imported $tag in $((SECONDS - t0)) s"
}

if ! have_tag "$RUNTIME_TAG"; then
  rootfs jre no openjdk-17-jre-headless passwd
  import "$(rootfs_tar jre no)" "$RUNTIME_TAG" --change 'CMD ["bash"]'
fi
if ! have_tag "$BUILD_TAG"; then
  rootfs jdk yes openjdk-17-jdk-headless maven passwd
  import "$(rootfs_tar jdk yes)" "$BUILD_TAG" \
    --change 'ENV MAVEN_HOME=/usr/share/maven' \
    --change 'ENV MAVEN_CONFIG=/root/.m2' \
    --change 'CMD ["mvn"]'
fi
if ! have_tag "$DEBIAN_TAG"; then
  minbase
  tar=$cache/debian-minbase.tar
  if [[ ! -s $tar ]]; then
    tar --numeric-owner -C "$cache/minbase" --exclude=./.complete -cf "$tar.tmp" .
    mv "$tar.tmp" "$tar"
  fi
  t0=$SECONDS
  docker import --change 'ENV LANG=C.UTF-8' --change 'CMD ["bash"]' \
    --message "local stand-in for $DEBIAN_TAG: Debian 12 minbase" "$tar" "$DEBIAN_TAG" >/dev/null
  log "imported $DEBIAN_TAG in $((SECONDS - t0)) s"
fi
