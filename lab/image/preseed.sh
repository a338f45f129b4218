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
