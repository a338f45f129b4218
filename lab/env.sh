#!/usr/bin/env bash
# Lab constants shared by lab/lab.sh, the Makefile, molecule scenarios and tests.
#
#   . lab/env.sh              # in bash: exports everything below
#   bash lab/env.sh           # prints `export NAME=value` lines
#   bash lab/env.sh --make    # prints `NAME := value` + `export NAME` lines (for a Makefile include)
#
# Paths are derived from this file's location; nothing machine-specific is stored.
# LAB_DEBIAN (12 = bookworm, 13 = trixie) may be set by the caller.

_lab_env_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
LAB_ROOT="$(cd "${_lab_env_dir}/.." && pwd)"
export LAB_ROOT
export LAB_DIR="${_lab_env_dir}"
unset _lab_env_dir

export LAB_DEBIAN="${LAB_DEBIAN:-12}"
case "${LAB_DEBIAN}" in
  12) export LAB_SUITE=bookworm ;;
  13) export LAB_SUITE=trixie ;;
  *) echo "lab/env.sh: LAB_DEBIAN must be 12 or 13 (got '${LAB_DEBIAN}')" >&2
     # shellcheck disable=SC2317  # exit is reached when executed instead of sourced
     return 1 2>/dev/null || exit 1 ;;
esac

export LAB_STATE="${LAB_ROOT}/.lab"
export CONTAINERS_CONF="${LAB_STATE}/containers.conf"

export LAB_NET=exlb-lab
export LAB_SUBNET=10.89.60.0/24
export LAB_PREFIX=24
export LAB_GW=10.89.60.1
export LAB_VIP=10.89.60.10
export LAB_IP_LB1=10.89.60.11
export LAB_IP_LB2=10.89.60.12
export LAB_IP_CAS1=10.89.60.21
export LAB_IP_CAS2=10.89.60.22
export LAB_IP_HUB1=10.89.60.31
export LAB_IP_HUB2=10.89.60.32
# more sets of stand-ins (same host names, own addresses and containers) for the scenarios that
# disturb a CAS (stop a service, freeze it, cut it off): each set belongs to one lane of make test,
# the first set is shared by the scenarios that only send traffic (docs/lab.md "lanes")
export LAB_IP_CAS1_B=10.89.60.121
export LAB_IP_CAS2_B=10.89.60.122
export LAB_IP_HUB1_B=10.89.60.131
export LAB_IP_HUB2_B=10.89.60.132
# a third set, for skeleton (it stops a CAS's nginx) in the network scenario's lane
export LAB_IP_CAS1_C=10.89.60.141
export LAB_IP_CAS2_C=10.89.60.142
export LAB_IP_HUB1_C=10.89.60.151
export LAB_IP_HUB2_C=10.89.60.152
# addresses reserved for molecule's own nodes (inclusive range)
export LAB_MOLECULE_IP_FIRST=10.89.60.40
export LAB_MOLECULE_IP_LAST=10.89.60.99

export LAB_PROXY_PORT=3142
export LAB_APT_PROXY="http://${LAB_GW}:${LAB_PROXY_PORT}"

export LAB_IMAGE_TAG="debian${LAB_DEBIAN}"
export LAB_NODE_IMAGE="localhost/exlb-node:${LAB_IMAGE_TAG}"
export LAB_STANDIN_IMAGE="localhost/exlb-standin:${LAB_IMAGE_TAG}"

export LAB_DOMAIN=mydomain.local
export LAB_MAIL_FQDN=mail.mydomain.local
export LAB_SSH_USER=ansible
export LAB_SSH_KEY="${LAB_STATE}/ssh/id_ed25519"
export LAB_KNOWN_HOSTS="${LAB_STATE}/ssh/known_hosts"
export LAB_PKI_DIR="${LAB_STATE}/pki"
export LAB_CA_CERT="${LAB_PKI_DIR}/ca.crt"

# name:hostname:ip:role:image-kind   (role: lb | cas | hub)
export LAB_NODES="exlb-lb1:lb1:${LAB_IP_LB1}:lb:node exlb-lb2:lb2:${LAB_IP_LB2}:lb:node"
export LAB_STANDINS="exlb-cas1:cas1:${LAB_IP_CAS1}:cas:standin exlb-cas2:cas2:${LAB_IP_CAS2}:cas:standin exlb-hub1:hub1:${LAB_IP_HUB1}:hub:standin exlb-hub2:hub2:${LAB_IP_HUB2}:hub:standin"
export LAB_STANDINS_B="exlb-b-cas1:cas1:${LAB_IP_CAS1_B}:cas:standin exlb-b-cas2:cas2:${LAB_IP_CAS2_B}:cas:standin exlb-b-hub1:hub1:${LAB_IP_HUB1_B}:hub:standin exlb-b-hub2:hub2:${LAB_IP_HUB2_B}:hub:standin"
export LAB_STANDINS_C="exlb-c-cas1:cas1:${LAB_IP_CAS1_C}:cas:standin exlb-c-cas2:cas2:${LAB_IP_CAS2_C}:cas:standin exlb-c-hub1:hub1:${LAB_IP_HUB1_C}:hub:standin exlb-c-hub2:hub2:${LAB_IP_HUB2_C}:hub:standin"

_lab_env_vars="LAB_ROOT LAB_DIR LAB_DEBIAN LAB_SUITE LAB_STATE CONTAINERS_CONF LAB_NET LAB_SUBNET LAB_PREFIX LAB_GW LAB_VIP
LAB_IP_LB1 LAB_IP_LB2 LAB_IP_CAS1 LAB_IP_CAS2 LAB_IP_HUB1 LAB_IP_HUB2 LAB_IP_CAS1_B LAB_IP_CAS2_B LAB_IP_HUB1_B LAB_IP_HUB2_B
LAB_IP_CAS1_C LAB_IP_CAS2_C LAB_IP_HUB1_C LAB_IP_HUB2_C LAB_MOLECULE_IP_FIRST LAB_MOLECULE_IP_LAST
LAB_PROXY_PORT LAB_APT_PROXY LAB_IMAGE_TAG LAB_NODE_IMAGE LAB_STANDIN_IMAGE LAB_DOMAIN LAB_MAIL_FQDN LAB_SSH_USER
LAB_SSH_KEY LAB_KNOWN_HOSTS LAB_PKI_DIR LAB_CA_CERT LAB_NODES LAB_STANDINS LAB_STANDINS_B LAB_STANDINS_C"

if [[ "${BASH_SOURCE[0]}" == "${0}" ]]; then
  # executed, not sourced: print the values
  for _v in ${_lab_env_vars}; do
    if [[ "${1:-}" == "--make" ]]; then
      printf '%s := %s\nexport %s\n' "${_v}" "${!_v}" "${_v}"
    else
      printf 'export %s=%q\n' "${_v}" "${!_v}"
    fi
  done
fi
unset _lab_env_vars _v
