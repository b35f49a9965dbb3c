# shellcheck shell=bash disable=SC2034
# (SC2034: the variables are used by the scripts that source this file.)
# Shared defaults and helpers for deploy/local-k8s/{build,up,down,ci-prepare}.
# Sourced, never executed: it only defines variables and functions.

K8S_VERSION="v1.20.2"
# The Debian source package whose tree is exactly upstream v1.20.2 (with vendor/).
K8S_DEBIAN_SOURCE_VERSION_PREFIX="1.20.5+really1.20.2"
K8S_TARBALL_NAME="kubernetes-${K8S_VERSION}-linux-amd64.tar.xz"
# sha256 of the prebuilt tarball kept in shared/k8s/; used when no SHA256SUMS
# file sits beside the tarball, so an unverified tarball is never unpacked.
K8S_TARBALL_SHA256="cc17ee098bcb8506a955191fe2629acd0b2a03937e41472d9d608faa0016414a"
# The four control-plane binaries the tarball holds and the source build makes.
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubemark)

KUBECS_CACHE_ROOT="${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/kubecs"
K8S_CACHE_DIR="${KUBECS_K8S_CACHE_DIR:-${KUBECS_CACHE_ROOT}/k8s-${K8S_VERSION}}"
K8S_BIN_DIR="${KUBECS_K8S_BIN_DIR:-${K8S_CACHE_DIR}/bin}"
LOCAL_K8S_STATE_DIR="${KUBECS_LOCAL_K8S_STATE_DIR:-${KUBECS_CACHE_ROOT}/local-k8s}"

log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
die() { printf '%s: error: %s\n' "${0##*/}" "$*" >&2; exit 1; }

# Runs a command as root: directly when we are root (CI, the dev machines), via
# sudo otherwise; fails with a clear message when neither is possible.
as_root() {
  if [[ ${EUID} -eq 0 ]]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    die "need root to run: $* (run as root or install sudo)"
  fi
}

# `apt-get update` at most once per script run: apt-cache and apt-get install
# see stale or empty lists on a fresh machine without it.
_APT_UPDATED=0
apt_update_once() {
  if [[ ${_APT_UPDATED} -eq 0 ]]; then
    log "apt-get update"
    as_root apt-get update -qq >&2 || die "apt-get update failed"
    _APT_UPDATED=1
  fi
}

# Installs the named Debian packages that are not installed yet.
apt_install_missing() {
  local missing=() pkg
  for pkg in "$@"; do
    if ! dpkg-query -W -f='${Status}' "${pkg}" 2>/dev/null | grep -q 'install ok installed'; then
      missing+=("${pkg}")
    fi
  done
  [[ ${#missing[@]} -eq 0 ]] && return 0
  apt_update_once
  log "apt-get install ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >&2 || die "apt-get install ${missing[*]} failed"
}

# Where kubectl is taken from: $KUBECS_KUBECTL, else the one `build` put in the
# cache (same version as the server), else whatever is on PATH.
find_kubectl() {
  if [[ -n ${KUBECS_KUBECTL:-} ]]; then
    printf '%s\n' "${KUBECS_KUBECTL}"
  elif [[ -x ${K8S_BIN_DIR}/kubectl ]]; then
    printf '%s\n' "${K8S_BIN_DIR}/kubectl"
  elif command -v kubectl >/dev/null 2>&1; then
    command -v kubectl
  else
    return 1
  fi
}
