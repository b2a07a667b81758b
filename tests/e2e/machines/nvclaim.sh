# shellcheck shell=bash
# Pre-boot setup of the 'nvclaim' machine (the nvidia hardware: two GPUs the NVIDIA simulator drives):
# the nvidia machine's setup (machines/nvidia.sh), with its second GPU $GH_NV_GPU2 left to nvidia this
# time, a GPU the host keeps, so that nvidia and nvidia_drm (modeset=1) are loaded and an unbind of the
# first GPU from nvidia would never finish; then the claim machine's setup for $GH_NV_GPU and its audio
# function (machines/claim.sh), whose rules reserve both for vfio-pci before nvidia can take them.
set -euo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# shellcheck source=tests/e2e/lib.sh
. /gh-repo/tests/e2e/lib.sh
# shellcheck source=tests/e2e/machines/claim.sh
. /gh-repo/tests/e2e/machines/claim.sh

bash /gh-repo/tests/e2e/machines/nvidia.sh
# The kernel reads a lone newline as "no override": nvidia takes the second GPU at coldplug.
echo >"/sys/bus/pci/devices/$GH_NV_GPU2/driver_override"
claim_machine_setup "$GH_NV_GPU" "$GH_NV_GPU_AUDIO"
