#!/usr/bin/env bash
# Build one lab image with mmdebstrap and import it into podman.
#   build.sh KIND TAG...       KIND = node | standin
# Environment (set by lab/lab.sh): LAB_SUITE LAB_MIRROR_MAIN LAB_MIRROR_SECURITY
#   LAB_APT_PROXY LAB_STATE LAB_IMAGE_HASH CONTAINERS_CONF
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
kind="${1:?kind}"; shift
[[ $# -ge 1 ]] || { echo "build.sh: need at least one tag" >&2; exit 2; }

: "${LAB_SUITE:?}" "${LAB_MIRROR_MAIN:?}" "${LAB_STATE:?}" "${LAB_APT_PROXY:?}" "${LAB_IMAGE_HASH:?}"
LAB_MIRROR_SECURITY="${LAB_MIRROR_SECURITY:-}"

pkgs="$(grep -v '^#' "${here}/packages.node" | xargs | tr ' ' ',')"
if [[ "${kind}" == standin ]]; then
  pkgs="${pkgs},$(grep -v '^#' "${here}/packages.standin" | xargs | tr ' ' ',')"
fi

build_dir="${LAB_STATE}/build"
cache_dir="${LAB_STATE}/debcache/${LAB_SUITE}"
mkdir -p "${build_dir}" "${cache_dir}"
tarball="${build_dir}/${kind}-${LAB_SUITE}.tar"
rm -f "${tarball}"

mirrors=("deb ${LAB_MIRROR_MAIN} ${LAB_SUITE} main" "deb ${LAB_MIRROR_MAIN} ${LAB_SUITE}-updates main")
if [[ -n "${LAB_MIRROR_SECURITY}" ]]; then
  mirrors+=("deb ${LAB_MIRROR_SECURITY} ${LAB_SUITE}-security main")
fi

export LAB_IMAGE_KIND="${kind}" LAB_ROOTFS_SRC="${here}/../rootfs"
# shellcheck disable=SC2016  # "$1" is expanded by mmdebstrap
hooks=(
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/'
  --setup-hook="sync-in ${cache_dir} /var/cache/apt/archives/"
  --essential-hook="${here}/preseed.sh \"\$1\""
  --customize-hook="sync-out /var/cache/apt/archives ${cache_dir}"
  --customize-hook="${here}/customize-node.sh \"\$1\""
)
if [[ "${kind}" == standin ]]; then
  hooks+=(--customize-hook="${here}/customize-standin.sh \"\$1\"")
fi

start=$(date +%s)
mmdebstrap --quiet --variant=minbase --include="${pkgs}" \
  --skip=essential/unlink \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  "${hooks[@]}" \
  "${LAB_SUITE}" "${tarball}" "${mirrors[@]}"
echo "lab: mmdebstrap ${kind} (${LAB_SUITE}) took $(( $(date +%s) - start )) s" >&2

first="$1"; shift
podman import --quiet \
  --change 'CMD ["/sbin/init"]' \
  --change 'STOPSIGNAL SIGRTMIN+3' \
  --change 'ENV container=podman' \
  --change "LABEL org.exlb.lab.kind=${kind}" \
  --change "LABEL org.exlb.lab.hash=${LAB_IMAGE_HASH}" \
  --change "LABEL org.exlb.lab.suite=${LAB_SUITE}" \
  "${tarball}" "${first}" >/dev/null
for tag in "$@"; do
  podman tag "${first}" "${tag}"
done
rm -f "${tarball}"
