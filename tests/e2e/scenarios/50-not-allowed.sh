# shellcheck shell=bash
# A hostdev the config does not allow: the start is refused with an error naming the address, and nothing
# is touched, whichever function the allowlist leaves out.
# e2e-machine: single

DOM=gh-e2e-allow

gh_install_tool
gh_install_dm_standin /dev/dri/card0
define_domain "$DOM" no "$GH_GPU" "$GH_GPU_AUDIO"
before=$(gh_host_state --pids)

for allowed in "$GH_GPU" "$GH_GPU_AUDIO"; do
        if [[ $allowed == "$GH_GPU" ]]; then refused=$GH_GPU_AUDIO; else refused=$GH_GPU; fi
        gh_log "devices = $allowed: $refused must be refused"
        gh_write_config "$DOM" <<<"devices = $allowed"
        gh_virsh_start_fails "$DOM"
        assert_contains "$GH_VIRSH_ERROR" "hostdev $refused is not allowed" "libvirt's error"
        assert_driver "$GH_GPU" bochs-drm
        assert_driver "$GH_GPU_AUDIO" snd_hda_intel
        assert_module_loaded bochs
        assert_file_absent "/run/gpu-handover/$DOM.journal"
        assert_host_state "$before" --pids
done
