#!/usr/bin/env bash
# Build the appliance VM image (docs/image.md): a bootable Debian disk made with mmdebstrap from
# the lab node's recipe (packages.node, preseed.sh, customize-node.sh) plus packages.vm and
# customize-vm.sh, with GRUB on a partitioned raw disk, converted to a compressed qcow2.
#   lab/image/build-vm.sh [OUTDIR]       (root: losetup, mount; OUTDIR defaults to .build/image)
# Outputs OUTDIR/exchange-lb-appliance-debian12.qcow2 (compressed), and from the same raw disk a
# .vmdk (stream-optimized), the .ova that carries it (ova.py) and a .vhdx (dynamic);
# IMAGE_EXTRA_FORMATS="" builds the qcow2 only ("ova" alone: the OVA without a separate .vmdk).
# Packages come from the host's Debian mirror (lab/aptproxy.py --print-mirrors, as lab/lab.sh
# reads it), cached under OUTDIR/debcache so that a rebuild downloads nothing.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=/dev/null
. "${here}/../env.sh"
out="$(mkdir -p "${1:-${LAB_ROOT}/.build/image}" && cd "${1:-${LAB_ROOT}/.build/image}" && pwd)"
name="exchange-lb-appliance-debian${LAB_DEBIAN}"
size="${IMAGE_DISK_SIZE:-4G}"

die() { echo "build-vm: $*" >&2; exit 1; }
[[ "$(id -u)" == 0 ]] || die "run as root (it needs losetup and mount)"
for tool in mmdebstrap sfdisk losetup mkfs.ext4 qemu-img; do
  command -v "${tool}" >/dev/null || die "${tool} is missing: make deps installs it"
done
eval "$(python3 "${here}/../aptproxy.py" --print-mirrors)" || die "cannot read the Debian mirror from the host's apt sources"
[[ -n "${LAB_MIRROR_MAIN:-}" ]] || die "no Debian main archive in the host's apt sources"
LAB_MIRROR_SECURITY="${LAB_MIRROR_SECURITY:-}"
export LAB_MIRROR_MAIN LAB_MIRROR_SECURITY
# the image's own apt sources name the mirror; no lab proxy inside the image
export LAB_APT_PROXY="" LAB_IMAGE_KIND=vm LAB_ROOTFS_SRC="${here}/../rootfs"

pkgs="$(cat "${here}/packages.node" "${here}/packages.vm" | grep -v '^#' | xargs | tr ' ' ',')"
cache_dir="${out}/debcache/${LAB_SUITE}"
work="${out}/work"
raw="${work}/${name}.raw"
mnt="${work}/root"
mkdir -p "${cache_dir}" "${work}" "${mnt}"

loop=""
cleanup() {
  set +e
  if mountpoint -q "${mnt}"; then umount -R "${mnt}"; fi
  if [[ -n "${loop}" ]]; then losetup -d "${loop}"; fi
}
trap cleanup EXIT

start=$(date +%s)
rm -f "${raw}"
truncate -s "${size}" "${raw}"
# one bootable Linux partition, 1 MiB aligned (GRUB's core image goes in the gap before it)
printf 'label: dos\nstart=2048, type=83, bootable\n' | sfdisk --quiet "${raw}"
loop="$(losetup --show --find --partscan "${raw}")"
part="${loop}p1"
# some kernels scan the table without making the partition's device: partx adds it
for _ in $(seq 50); do [[ -b "${part}" ]] && break; partx --add "${loop}" 2>/dev/null || true; sleep 0.1; done
[[ -b "${part}" ]] || die "no partition device ${part}"
mkfs.ext4 -q -L exlb-root -m 1 "${part}"
mount "${part}" "${mnt}"
rmdir "${mnt}/lost+found"

mirrors=("deb ${LAB_MIRROR_MAIN} ${LAB_SUITE} main" "deb ${LAB_MIRROR_MAIN} ${LAB_SUITE}-updates main")
if [[ -n "${LAB_MIRROR_SECURITY}" ]]; then
  mirrors+=("deb ${LAB_MIRROR_SECURITY} ${LAB_SUITE}-security main")
fi
# the lab node's hooks, then the VM's
# shellcheck disable=SC2016  # "$1" is expanded by mmdebstrap
mmdebstrap --quiet --variant=minbase --include="${pkgs}" \
  --skip=essential/unlink \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --setup-hook='mkdir -p "$1"/var/cache/apt/archives/' \
  --setup-hook="sync-in ${cache_dir} /var/cache/apt/archives/" \
  --essential-hook="${here}/preseed.sh \"\$1\"" \
  --customize-hook="sync-out /var/cache/apt/archives ${cache_dir}" \
  --customize-hook="${here}/customize-node.sh \"\$1\"" \
  "${LAB_SUITE}" "${mnt}" "${mirrors[@]}"
echo "build-vm: mmdebstrap took $(( $(date +%s) - start )) s" >&2

# the VM's part: boot loader, the collection and its first-boot wizard, the seal
for fs in dev proc sys; do mount --rbind "/${fs}" "${mnt}/${fs}"; mount --make-rslave "${mnt}/${fs}"; done
LAB_ROOT_UUID="$(blkid -s UUID -o value "${part}")" LAB_BOOT_DISK="${loop}" "${here}/customize-vm.sh" "${mnt}"
for fs in dev proc sys; do umount -R "${mnt}/${fs}"; done
# the packages mmdebstrap unpacked from and removed: their blocks become holes, not qcow2 clusters
fstrim "${mnt}"
umount "${mnt}"
e2fsck -fy "${part}" >/dev/null || [[ $? -le 1 ]]
losetup -d "${loop}"; loop=""

qcow2="${out}/${name}.qcow2"
rm -f "${qcow2}" "${out}/${name}".{vmdk,ova,vhdx} "${work}/${name}.vmdk"
nice -n 10 qemu-img convert -c -O qcow2 "${raw}" "${qcow2}"
# the same disk for VMware/VirtualBox (a stream-optimized VMDK, and the OVA that carries it with its
# OVF descriptor: ova.py) and Hyper-V
vmdk() {
  [[ -s "$1" ]] || nice -n 10 qemu-img convert -O vmdk -o subformat=streamOptimized "${raw}" "$1"
}
for format in ${IMAGE_EXTRA_FORMATS-vmdk ova vhdx}; do
  case "${format}" in
    vmdk) vmdk "${out}/${name}.vmdk" ;;
    ova)
      disk="${out}/${name}.vmdk"
      [[ " ${IMAGE_EXTRA_FORMATS-vmdk} " == *" vmdk "* ]] || disk="${work}/${name}.vmdk"
      vmdk "${disk}"
      nice -n 10 python3 "${here}/ova.py" "${disk}" "${out}/${name}.ova" ;;
    vhdx) nice -n 10 qemu-img convert -O vhdx -o subformat=dynamic "${raw}" "${out}/${name}.vhdx" ;;
    *) die "IMAGE_EXTRA_FORMATS: unknown format ${format} (vmdk, ova, vhdx)" ;;
  esac
done
rm -f "${raw}" "${work}/${name}.vmdk"
took=$(( $(date +%s) - start ))
printf '%s\n' "${took}" > "${out}/build-seconds"
echo "build-vm: built in ${took} s:"
for f in "${out}/${name}".*; do
  echo "build-vm:   ${f}: $(( $(stat -c %s "${f}") / 1000000 )) MB"
done
