#!/usr/bin/env bash
# mmdebstrap customize-hook for the stand-in image: bake every stand-in config.
# A container picks its role with `/sbin/init --unit=lab-cas.target|lab-hub.target`;
# no service is enabled outside those targets. Certificates are mounted at run
# time under /etc/lab/pki (cas.* / hub.* / ca.crt).
set -euo pipefail
root="${1:?chroot}"
: "${LAB_ROOTFS_SRC:?}"
in_root() { chroot "${root}" "$@"; }

cp -rT "${LAB_ROOTFS_SRC}/standin" "${root}"
install -d -m 0755 "${root}/etc/lab/pki"

# --- dovecot 2.4 (trixie) has a new configuration syntax: use the 2.4 variants
# shellcheck disable=SC2016  # dpkg-query format, not a shell expansion
dovecot_version="$(in_root dpkg-query -W -f='${Version}' dovecot-core)"
if [[ "${dovecot_version#*:}" =~ ^2\.([4-9]|[1-9][0-9]) ]]; then
  cp "${root}/etc/dovecot/lab-2.4/99-lab-cas.conf" "${root}/etc/dovecot/conf.d/99-lab-cas.conf"
  cp "${root}/etc/dovecot/lab-2.4/lab-hub-sasl.conf" "${root}/etc/dovecot/lab-hub-sasl.conf"
fi
rm -rf "${root}/etc/dovecot/lab-2.4"

# --- role services are started only by lab-cas.target / lab-hub.target
for unit in ssh nginx dovecot postfix smbd nmbd samba-ad-dc; do
  in_root systemctl disable "${unit}.service" >/dev/null 2>&1 || true
done

# --- users: lab/labpass (IMAP/POP3 on CAS), hubuser/hubpass (SMTP AUTH + mailbox on hub)
in_root useradd --create-home --shell /usr/sbin/nologin lab
in_root useradd --create-home --shell /usr/sbin/nologin hubuser
printf 'lab:labpass\nhubuser:hubpass\n' | in_root chpasswd
cat > "${root}/var/mail/lab" <<'MBOX'
From postmaster@mydomain.local  Mon Jan  1 00:00:00 2024
Return-Path: <postmaster@mydomain.local>
From: Lab Postmaster <postmaster@mydomain.local>
To: lab@mydomain.local
Subject: Welcome to the exlb lab mailbox
Date: Mon, 01 Jan 2024 00:00:00 +0000
Message-ID: <welcome@exlb.lab>

This message was seeded into the CAS stand-in image.

MBOX
in_root chown lab:mail /var/mail/lab
chmod 0660 "${root}/var/mail/lab"

# --- nginx
rm -f "${root}/etc/nginx/sites-enabled/default"
ln -sf ../sites-available/lab-cas "${root}/etc/nginx/sites-enabled/lab-cas"

# --- postfix (hub): myhostname left unset -> runtime hostname + .$mydomain
in_root postconf -X myhostname
# shellcheck disable=SC2016  # $myhostname etc. are postfix variables
in_root postconf -e \
  'mydomain = mydomain.local' \
  'myorigin = $myhostname' \
  'mydestination = $myhostname, localhost.$mydomain, localhost, regexp:/etc/postfix/lab-domains.regexp' \
  'mynetworks = 127.0.0.0/8 10.89.60.0/24' \
  'inet_interfaces = all' \
  'inet_protocols = ipv4' \
  'relayhost =' \
  'smtpd_banner = $myhostname ESMTP Postfix (Exchange Hub stand-in)' \
  'smtpd_tls_cert_file = /etc/lab/pki/hub.fullchain.crt' \
  'smtpd_tls_key_file = /etc/lab/pki/hub.key' \
  'smtpd_tls_security_level = may' \
  'smtpd_tls_received_header = yes' \
  'smtpd_tls_loglevel = 1' \
  'smtp_tls_security_level = none' \
  'smtpd_sasl_type = dovecot' \
  'smtpd_sasl_path = private/auth' \
  'default_transport = error:5.7.1 the lab hub stand-in does not relay' \
  'relay_transport = error:5.7.1 the lab hub stand-in does not relay' \
  'maillog_file = /var/log/postfix.log' \
  'mailbox_size_limit = 0'
in_root postconf -M 'submission/inet=submission inet n - y - - smtpd'
for p in \
  'syslog_name=postfix/submission' \
  'smtpd_tls_security_level=encrypt' \
  'smtpd_sasl_auth_enable=yes' \
  'smtpd_tls_auth_only=yes' \
  'smtpd_client_restrictions=permit_sasl_authenticated,reject' \
  'smtpd_relay_restrictions=permit_sasl_authenticated,reject'; do
  in_root postconf -P "submission/inet/${p}"
done
in_root newaliases
