#!/usr/bin/env bash
# mmdebstrap customize-hook for every image: turn the chroot into a plain
# "customer VM" (user ansible, key-only sshd, apt via the lab proxy).
# The appliance VM image (build-vm.sh, LAB_IMAGE_KIND=vm, LAB_APT_PROXY empty) shares it: the
# same apt sources, overlay and sshd, without the lab's proxy and its ansible account
# (customize-vm.sh makes the admin account).
set -euo pipefail
root="${1:?chroot}"
: "${LAB_SUITE:?}" "${LAB_MIRROR_MAIN:?}" "${LAB_APT_PROXY?}" "${LAB_ROOTFS_SRC:?}"

# containers get hostname, hosts and resolv.conf from podman
rm -f "${root}/etc/hostname" "${root}/etc/mailname"

# --- apt: the mirror this machine uses, always as plain http (the lab proxy
# fetches upstream with the host's own scheme), through the lab proxy.
as_http() { printf '%s' "$1" | sed -E 's#^https://#http://#'; }
: > "${root}/etc/apt/sources.list"
{
  printf 'Types: deb\nURIs: %s\nSuites: %s %s-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
    "$(as_http "${LAB_MIRROR_MAIN}")" "${LAB_SUITE}" "${LAB_SUITE}"
  if [[ -n "${LAB_MIRROR_SECURITY:-}" ]]; then
    printf '\nTypes: deb\nURIs: %s\nSuites: %s-security\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' \
      "$(as_http "${LAB_MIRROR_SECURITY}")" "${LAB_SUITE}"
  fi
} > "${root}/etc/apt/sources.list.d/debian.sources"
if [[ -n "${LAB_APT_PROXY}" ]]; then
  printf 'Acquire::http::Proxy "%s";\n' "${LAB_APT_PROXY}" > "${root}/etc/apt/apt.conf.d/01lab-proxy"
fi

# --- overlay files shared by every image
cp -rT "${LAB_ROOTFS_SRC}/node" "${root}"

# --- user ansible: key auth only, passwordless sudo (lab images only)
if [[ "${LAB_IMAGE_KIND:-node}" != vm ]]; then
  chroot "${root}" useradd --create-home --shell /bin/bash --password '*' ansible
  install -d -m 0700 "${root}/home/ansible/.ssh"
  chroot "${root}" chown ansible:ansible /home/ansible/.ssh
  printf 'ansible ALL=(ALL:ALL) NOPASSWD: ALL\n' > "${root}/etc/sudoers.d/ansible"
  chmod 0440 "${root}/etc/sudoers.d/ansible"
fi

# --- sshd: no baked host keys; the lab mounts one per node, else one is made at first start
rm -f "${root}"/etc/ssh/ssh_host_*
chmod 0644 "${root}/etc/ssh/sshd_config.d/10-lab.conf"
