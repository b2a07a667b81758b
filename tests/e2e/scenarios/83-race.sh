# shellcheck shell=bash
# Two opted-in domains with the same GPU (05.0 and 05.1, managed='no') started at the same moment, round
# after round: each time exactly one starts, and the other's start fails and leaves nothing (no journal of
# its own, the winner's hand-over untouched: both functions on vfio-pci, bochs unloaded); destroying the
# winner gives the host back. Prints how many rounds each domain won.
# e2e-machine: single
# e2e-timeout: 600

A=gh-e2e-race-a
B=gh-e2e-race-b
ROUNDS=20

gh_install_tool
for dom in "$A" "$B"; do
        gh_write_config "$dom" </dev/null
        define_domain "$dom" no "$GH_GPU" "$GH_GPU_AUDIO"
done
before=$(gh_host_state)
declare -A wins=(["$A"]=0 ["$B"]=0)

# Microseconds, without a fork ($EPOCHREALTIME).
now_usec() {
        echo "${EPOCHREALTIME/./}"
}

# The checks inside a round use no fork where they can: each costs a good part of a second in this guest,
# and a round is mostly QEMU's start already.
running() {
        local pid=
        [[ -r /run/libvirt/qemu/$1.pid ]] || return 1
        # libvirt writes the pid with no newline: read finds the end of the file, and fails, after it.
        read -r pid <"/run/libvirt/qemu/$1.pid" || [[ -n $pid ]]
        gh_pid_alive "$pid"
}

check_round() {
        local r=$1 winner=$2 loser=$3
        running "$winner" || gh_fail "round $r: the winner '$winner' has no QEMU running"
        ! running "$loser" || gh_fail "round $r: the loser '$loser' runs too"
        [[ -e /run/gpu-handover/$winner.journal ]] || gh_fail "round $r: no journal of the winner '$winner'"
        [[ ! -e /run/gpu-handover/$loser.journal ]] || gh_fail "round $r: the loser '$loser' left a journal"
        [[ -e /sys/bus/pci/drivers/vfio-pci/$GH_GPU && -e /sys/bus/pci/drivers/vfio-pci/$GH_GPU_AUDIO ]] ||
                gh_fail "round $r: $GH_GPU or $GH_GPU_AUDIO is not on vfio-pci while '$winner' runs"
        [[ ! -d /sys/module/bochs ]] || gh_fail "round $r: bochs is loaded while '$winner' runs"
}

times=()
for ((round = 1; round <= ROUNDS; round++)); do
        start=$(now_usec)
        virsh -q start --paused "$A" >"$GH_E2E_RUN/race-$A.out" 2>&1 &
        pid_a=$!
        virsh -q start --paused "$B" >"$GH_E2E_RUN/race-$B.out" 2>&1 &
        pid_b=$!
        rc_a=0 rc_b=0
        wait "$pid_a" || rc_a=$?
        wait "$pid_b" || rc_b=$?
        if ((rc_a == 0 && rc_b != 0)); then
                winner=$A loser=$B
        elif ((rc_b == 0 && rc_a != 0)); then
                winner=$B loser=$A
        else
                cat "$GH_E2E_RUN/race-$A.out" "$GH_E2E_RUN/race-$B.out"
                gh_fail "round $round: virsh start of '$A' exited $rc_a, of '$B' $rc_b: not exactly one started"
        fi
        wins[$winner]=$((wins[$winner] + 1))
        check_round "$round" "$winner" "$loser"
        # Refused by the hook, which names the winner's hand-over, not by anything else.
        read -r -d '' text <"$GH_E2E_RUN/race-$loser.out" || true
        assert_contains "$text" "is handed to domain '$winner' already" "round $round: the loser's error"
        ((round > 1)) || printf "round 1: the loser's start failed with:\n%s\n" "$text"
        assert_ok virsh -q destroy "$winner"
        assert_host_state "$before"
        times+=($((($(now_usec) - start) / 1000)))
        gh_log "round $round: '$winner' won, ${times[-1]} ms"
done
IFS=$'\n' read -r -d '' -a sorted < <(printf '%s\n' "${times[@]}" | sort -n) || true
gh_log "wins in $ROUNDS rounds: $A ${wins[$A]}, $B ${wins[$B]}; a round took ${sorted[0]} to ${sorted[-1]} ms (median ${sorted[ROUNDS / 2]})"
