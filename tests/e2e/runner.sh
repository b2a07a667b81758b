#!/bin/bash
# Runs in the e2e guest as gh-e2e.service: each scenario in its own bash, in order, with a deadline; its
# outcome, time and output go to the results share, which scripts/vm-test reads after power-off.
set -uo pipefail

GH_E2E_DIR=$(dirname "$(readlink -f "$0")")
export GH_E2E_DIR
# shellcheck source=tests/e2e/lib.sh
. "$GH_E2E_DIR/lib.sh"
export GH_REPO GH_BUILD GH_E2E_RESULTS
RES=$GH_E2E_RESULTS
SCENARIO_TIMEOUT=${GH_E2E_SCENARIO_TIMEOUT:-$(cat "$RES/scenario-timeout" 2>/dev/null || echo 240)}

# The scenarios scripts/vm-test chose for this machine, or all of them.
scenario_list() {
        local f
        if [[ -f $RES/scenarios ]]; then
                grep -v '^$' "$RES/scenarios"
                return
        fi
        for f in "$GH_E2E_DIR"/scenarios/[0-9][0-9]-*.sh; do
                [[ -e $f ]] && basename "$f" .sh
        done
}

# Saves what the guest's journal says when a scenario did not pass.
save_journal() {
        journalctl -b --no-pager | tail -n 200 >"$RES/$1.journal"
}

# The tool's own step and phase times during the scenario, in its log and apart for the host's summary.
save_timings() {
        gh_timings "$GH_E2E_SCENARIO_START_USEC" >"$RES/$1.timings" || true
        [[ -s $RES/$1.timings ]] || return 0
        {
                echo "gpu-handover's own timings (from its journal entries):"
                gh_show_timings "$GH_E2E_SCENARIO_START_USEC"
        } | tee -a "$RES/$1.log"
}

# A scenario's limit: its '# e2e-timeout: SEC' line when that is longer than the default.
scenario_timeout() {
        local t
        t=$(sed -n 's/^# e2e-timeout: *\([0-9][0-9]*\).*$/\1/p' "$1" 2>/dev/null | head -n1)
        echo $((${t:-0} > SCENARIO_TIMEOUT ? t : SCENARIO_TIMEOUT))
}

run_scenario() {
        local name=$1 file=$GH_E2E_DIR/scenarios/$1.sh rc start ms secs status reason='' fixes limit
        start=$(date +%s%N)
        # For gh_timings: the tool's journal entries from here on are this scenario's.
        export GH_E2E_SCENARIO_START_USEC=$((start / 1000))
        limit=$(scenario_timeout "$file")
        gh_log "=== $name"
        if [[ -f $file ]]; then
                # shellcheck disable=SC2016 # expanded by the scenario's bash
                timeout --kill-after=10 "$limit" bash -c \
                        'set -euo pipefail; . "$GH_E2E_DIR/lib.sh"; . "$1"' "$name" "$file" </dev/null 2>&1 |
                        tee "$RES/$name.log"
                rc=${PIPESTATUS[0]}
        else
                echo "no such scenario: $file" | tee "$RES/$name.log"
                rc=1
        fi
        ms=$((($(date +%s%N) - start) / 1000000))
        secs=$(printf '%d.%02d' $((ms / 1000)) $((ms % 1000 / 10)))
        case $rc in
        0) status=PASS ;;
        "$GH_E2E_EXIT_SKIP") status=SKIP reason=$(sed -n 's/^SKIP: //p' "$RES/$name.log" | tail -n1) ;;
        124 | 137) status=FAIL reason="timed out after ${limit}s" ;;
        *) status=FAIL reason="exit $rc" ;;
        esac
        [[ $status == FAIL ]] && save_journal "$name"
        save_timings "$name"
        # A scenario must leave the guest as it found it; whatever it left would spoil the next ones.
        fixes=$(gh_e2e_reset "$GH_E2E_RUN/baseline" </dev/null 2>&1)
        if [[ -n $fixes ]]; then
                printf 'after %s: %s\n' "$name" "$fixes" | tee -a "$RES/$name.log"
                if [[ $status != FAIL ]]; then
                        status=FAIL reason="left the guest changed: ${fixes//$'\n'/; }"
                        save_journal "$name"
                fi
        fi
        printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$secs" "$reason" >>"$RES/results.tsv"
        gh_log "=== $name: $status ($secs s)"
}

main() {
        local name
        mkdir -p "$GH_E2E_RUN"
        _gh_uptime >"$RES/boot-seconds"
        gh_log "runner started; kernel $(uname -r), build dir $GH_BUILD"
        # The baseline is what the drivers do once udev has loaded them all (snd_hda_intel may still be on
        # its way when a slow guest gets here).
        udevadm settle --timeout=120 || gh_log "udev did not settle within 120 s"
        gh_device_state >"$GH_E2E_RUN/baseline"
        cp "$GH_E2E_RUN/baseline" "$RES/devices-at-boot"
        : >"$RES/results.tsv"
        while read -r name; do
                run_scenario "$name"
        done < <(scenario_list)
        _gh_uptime >"$RES/done"
        sync
}

main "$@"
