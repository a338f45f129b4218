#!/usr/bin/env bash
# mmdebstrap essential-hook: debconf answers before the packages are installed.
set -euo pipefail
root="${1:?chroot}"
if [[ "${LAB_IMAGE_KIND:-node}" == standin ]]; then
  chroot "${root}" debconf-set-selections <<'SEL'
postfix postfix/main_mailer_type select Internet Site
postfix postfix/mailname string localhost
SEL
fi
if [[ "${LAB_IMAGE_KIND:-node}" == vm ]]; then
  # GRUB goes on the disk in build-vm.sh; which disk the VM boots from is found at its first boot
  chroot "${root}" debconf-set-selections <<'SEL'
grub-pc grub-pc/install_devices_empty boolean true
grub-pc grub-pc/install_devices multiselect
SEL
fi
