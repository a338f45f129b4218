#!/usr/bin/env bash
# The appliance VM image's part, after the lab node's hooks (build-vm.sh runs it with /dev, /proc
# and /sys mounted in the root): hostname and fstab, the admin account, GRUB on the disk, the
# collection with its first-boot wizard on tty1 and ttyS0, then the seal (docs/image.md).
#   customize-vm.sh ROOT      environment: LAB_ROOT LAB_ROOT_UUID LAB_BOOT_DISK LAB_ROOTFS_SRC
set -euo pipefail
root="${1:?root}"
: "${LAB_ROOT:?}" "${LAB_ROOT_UUID:?}" "${LAB_BOOT_DISK:?}" "${LAB_ROOTFS_SRC:?}"
in_root() { chroot "${root}" "$@"; }
# systemctl in the root works on files only (it may not see that it runs in a chroot)
export SYSTEMD_OFFLINE=1

# --- the box's files (the lab's containers get them from podman)
printf 'exchange-lb\n' > "${root}/etc/hostname"
printf '127.0.0.1\tlocalhost\n127.0.1.1\texchange-lb\n::1\tlocalhost ip6-localhost ip6-loopback\n' > "${root}/etc/hosts"
printf 'UUID=%s\t/\text4\terrors=remount-ro\t0\t1\n' "${LAB_ROOT_UUID}" > "${root}/etc/fstab"
if [[ ! -s "${root}/etc/network/interfaces" ]]; then
  printf 'source /etc/network/interfaces.d/*\n\nauto lo\niface lo inet loopback\n' > "${root}/etc/network/interfaces"
fi
cp -rT "${LAB_ROOTFS_SRC}/vm" "${root}"
mkdir -p "${root}/var/lib/exchange-lb"
: > "${root}/var/lib/exchange-lb/image-firstboot"
in_root systemctl enable exlb-image-firstboot.service

# --- the admin account: sudo with its password, which is changed at the first login (on the console)
in_root useradd --create-home --shell /bin/bash --groups sudo admin
printf 'admin:admin\n' | in_root chpasswd
in_root passwd --quiet --expire admin
# SSH takes no password until that change (05-appliance.conf; the PAM hook admin-first-password)
in_root groupadd --system exlb-ssh-password
: > "${root}/var/lib/exchange-lb/admin-first-password"
in_root pam-auth-update --enable exlb-admin-first-password
grep -q admin-first-password "${root}/etc/pam.d/common-password" || { echo "customize-vm: the PAM hook is not armed" >&2; exit 1; }
in_root passwd --quiet --lock root

# --- the daemons wait for the roles (they enable what the plan uses)
in_root systemctl disable haproxy.service prometheus-node-exporter.service

# --- GRUB on the disk's MBR, its menu and the kernel on the VGA console and the serial port
sed -i -E \
  -e 's/^GRUB_TIMEOUT=.*/GRUB_TIMEOUT=1/' \
  -e 's/^GRUB_CMDLINE_LINUX_DEFAULT=.*/GRUB_CMDLINE_LINUX_DEFAULT="quiet"/' \
  -e 's/^GRUB_CMDLINE_LINUX=.*/GRUB_CMDLINE_LINUX="console=tty1 console=ttyS0,115200n8 net.ifnames=0"/' \
  "${root}/etc/default/grub"
cat >> "${root}/etc/default/grub" <<'GRUB'
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --unit=0 --speed=115200"
GRUB_DISABLE_OS_PROBER=true
GRUB
in_root grub-install --target=i386-pc --modules="part_msdos ext2" "${LAB_BOOT_DISK}"
in_root update-grub 2>/dev/null
# without udev's /dev/disk/by-uuid here, grub-mkconfig names the build's loop device
sed -i -E "s#root=/dev/loop[0-9]+p1#root=UUID=${LAB_ROOT_UUID}#g" "${root}/boot/grub/grub.cfg"
grep -q "root=UUID=${LAB_ROOT_UUID}" "${root}/boot/grub/grub.cfg" || { echo "customize-vm: no root=UUID in grub.cfg" >&2; exit 1; }

# --- the collection, and its first-boot wizard armed (playbooks/firstboot.yml, through chroot)
collection_dir="${root}/usr/share/ansible/collections"
build="$(mktemp -d)"
trap 'rm -rf "${build}"' EXIT
(cd "${LAB_ROOT}" && .venv/bin/ansible-galaxy collection build --force --output-path "${build}" . >/dev/null)
ANSIBLE_CONFIG="${LAB_ROOT}/ansible.cfg" "${LAB_ROOT}/.venv/bin/ansible-galaxy" collection install --offline --no-deps --force \
  -p "${collection_dir}" "${build}"/exchange_lb-appliance-*.tar.gz >/dev/null
ANSIBLE_CONFIG="${LAB_ROOT}/ansible.cfg" "${LAB_ROOT}/.venv/bin/ansible-playbook" \
  -i "${root}," -c community.general.chroot -e firstboot_hosts=all \
  -e firstboot_serial_tty=ttyS0 -e firstboot_ssh_user=admin \
  "${LAB_ROOT}/playbooks/firstboot.yml"
[[ ! -e "${root}/etc/exchange-lb/configured" ]] || { echo "customize-vm: the wizard is not armed" >&2; exit 1; }

# --- the seal: nothing of this build, nothing a copy must not share
: > "${root}/etc/machine-id"
rm -f "${root}/var/lib/dbus/machine-id" "${root}/var/lib/systemd/random-seed" "${root}"/etc/ssh/ssh_host_*
rm -rf "${root}"/var/lib/apt/lists/* "${root}"/var/cache/apt/*.bin "${root}"/var/cache/apt/archives/*.deb \
  "${root}"/var/cache/debconf/*-old "${root}"/var/lib/dpkg/*-old "${root}"/tmp/* "${root}"/var/tmp/* \
  "${root}"/root/.ansible "${root}"/root/.bash_history
mkdir -p "${root}/var/lib/apt/lists/partial"
find "${root}/var/log" -type f -exec truncate -s 0 {} +
