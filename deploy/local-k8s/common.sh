# shellcheck shell=bash disable=SC2034
# (SC2034: the variables are used by the scripts that source this file.)
# Shared defaults and helpers for deploy/local-k8s/{build,up,down,ci-prepare}.
# Sourced, never executed: it only defines variables and functions.

K8S_VERSION="v1.20.2"
# The Debian source package whose tree is exactly upstream v1.20.2 (with vendor/).
K8S_DEBIAN_SOURCE_VERSION_PREFIX="1.20.5+really1.20.2"
K8S_TARBALL_NAME="kubernetes-${K8S_VERSION}-linux-amd64.tar.xz"
# How the binaries are made: Debian's tree, Debian's reflect2/json-iterator
# instead of the vendored ones, and the four hollow-node fixes of
# hollow-node.patch. `build` records it in <bin>/ORIGIN and `up` refuses a
# cache made under another recipe (or with no record at all, as caches from
# before it was recorded), so a machine never keeps running binaries that
# lack a fix. Change it whenever the recipe changes, together with
# K8S_TARBALL_SHA256 (a tarball built the new way).
K8S_RECIPE="v1.20.2+debian-reflect2+hollow-node-fixes-1-4"
# sha256 of the prebuilt tarball kept in shared/k8s/, built with K8S_RECIPE.
# A tarball with another checksum is only unpacked when a SHA256SUMS beside
# it vouches for it and its kubemark carries the fixes (see build).
K8S_TARBALL_SHA256="7cd9b03701944f0c66ee23b29d0320b531a013c99613c6714a95530ad9feb936"
# The four control-plane binaries the tarball holds and the source build makes.
K8S_BINARIES=(kube-apiserver kube-controller-manager kube-scheduler kubemark)

KUBECS_CACHE_ROOT="${XDG_CACHE_HOME:-${HOME:?HOME is not set}/.cache}/kubecs"
K8S_CACHE_DIR="${KUBECS_K8S_CACHE_DIR:-${KUBECS_CACHE_ROOT}/k8s-${K8S_VERSION}}"
K8S_BIN_DIR="${KUBECS_K8S_BIN_DIR:-${K8S_CACHE_DIR}/bin}"
LOCAL_K8S_STATE_DIR="${KUBECS_LOCAL_K8S_STATE_DIR:-${KUBECS_CACHE_ROOT}/local-k8s}"
# Written by `build` beside the binaries: which recipe and which tarball (or
# source package) they came from. Read by `build` and `up`.
K8S_ORIGIN_FILE_NAME="ORIGIN"

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

# Prints the `recipe=` value of an ORIGIN file (nothing when absent).
origin_recipe() {
  [[ -f $1 ]] && sed -n 's/^recipe=//p' "$1"
  return 0
}

# True when kubemark carries the fixes that leave a trace in the binary: the
# per-node runtime socket (fix 4: the variable's name) and validateNodeIP
# accepting loopback (fix 2: its refusal message is gone). The bind address
# and the FakeOS mutex leave none; `up` checks the address it sees instead.
kubemark_has_fixes() {
  grep -qaF 'KUBEMARK_RUNTIME_SOCKET' "$1" && ! grep -qaF "nodeIP can't be loopback address" "$1"
}

# A pid recorded in state dir $2 counts as ours only while it runs a command
# line that names that directory: a pid reused by an unrelated process (or a
# zombie, whose command line is empty) is never taken for a component.
owned_pid() { # pid state_dir
  [[ $1 =~ ^[0-9]+$ ]] || return 1
  kill -0 "$1" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | grep -qF -- "$2"
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
