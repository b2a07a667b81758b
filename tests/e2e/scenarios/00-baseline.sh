# shellcheck shell=bash
# Proves the harness on the real kernel without our tool: the GPU and its audio function are bound and
# share an IOMMU group, and libvirt alone hands both to vfio-pci (managed='yes') and back.
# e2e-machine: single

assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
assert_module_loaded bochs
assert_module_loaded snd_hda_intel
assert_same_iommu_group "$GH_GPU" "$GH_GPU_AUDIO"
assert_file_exists /dev/dri/card0
assert_unit_active libvirtd.service

define_domain gh-e2e-baseline yes "$GH_GPU" "$GH_GPU_AUDIO"
gh_log "starting the domain (paused)"
assert_ok virsh start --paused gh-e2e-baseline
assert_driver "$GH_GPU" vfio-pci
assert_driver "$GH_GPU_AUDIO" vfio-pci
assert_file_exists "$(gh_vfio_node "$GH_GPU")"

gh_log "destroying the domain"
assert_ok virsh destroy gh-e2e-baseline
assert_driver "$GH_GPU" bochs-drm
assert_driver "$GH_GPU_AUDIO" snd_hda_intel
wait_for 30 test -e /dev/dri/card0
assert_ok virsh undefine gh-e2e-baseline
