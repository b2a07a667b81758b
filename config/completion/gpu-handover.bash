# bash completion for gpu-handover(8): subcommands, their options, and domain names (the domains that
# opted in under /etc/gpu-handover/domains, libvirt's persistent domains under /etc/libvirt/qemu, and
# the domains with a hand-over journal). The names come from under $_gpu_handover_root when that is set
# (the tests' fake root), from / otherwise.
# Needs no bash-completion helpers, so it also works when sourced by hand.

_gpu_handover_domains()
{
        local root=$1 f name
        local -a files

        files=("$root"/etc/gpu-handover/domains/*.conf "$root"/etc/libvirt/qemu/*.xml
                "$root"/run/gpu-handover/*.journal)
        for f in "${files[@]}"; do
                [[ -f $f ]] || continue
                name=${f##*/}
                printf '%s\n' "${name%.*}"
        done | sort -u
}

# Adds the words of $2 (newline-separated) that start with the current word $1 to COMPREPLY.
_gpu_handover_add()
{
        local cur=$1 w
        local IFS=$'\n'

        for w in $(compgen -W "$2" -- "$cur"); do
                COMPREPLY+=("$w")
        done
}

_gpu_handover_files()
{
        if declare -F _filedir >/dev/null; then
                _filedir
        else
                mapfile -t -O "${#COMPREPLY[@]}" COMPREPLY < <(compgen -f -- "$1")
        fi
}

_gpu_handover()
{
        local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
        local commands="plan check status restore install uninstall claim-boot desktop-rules hook help"
        local root=${_gpu_handover_root-} cmd="" i w
        local -i args=0

        COMPREPLY=()
        # The global options come before the command; the command's own follow it.
        for ((i = 1; i < COMP_CWORD; i++)); do
                w=${COMP_WORDS[i]}
                if [[ -z $cmd ]]; then
                        [[ $w == -* ]] || cmd=$w
                elif [[ $w != -* && ${COMP_WORDS[i - 1]} != @(--xml|--hook-binary|--connect|--root) ]]; then
                        args+=1
                fi
        done

        if [[ -z $cmd ]]; then
                if [[ $cur == -* ]]; then
                        _gpu_handover_add "$cur" $'--help\n--version'
                else
                        _gpu_handover_add "$cur" "${commands// /$'\n'}"
                fi
                return 0
        fi

        case $prev in
        --xml)
                [[ $cur == - ]] && COMPREPLY=(-) || _gpu_handover_files "$cur"
                return 0
                ;;
        --hook-binary)
                _gpu_handover_files "$cur"
                return 0
                ;;
        --root)
                mapfile -t COMPREPLY < <(compgen -d -- "$cur")
                return 0
                ;;
        --connect)
                _gpu_handover_add "$cur" $'qemu:///system'
                return 0
                ;;
        esac

        case $cmd in
        plan | check)
                # The domain first; the options once it is there.
                if [[ $cur == -* ]] || ((args > 0)); then
                        if [[ $cmd == check ]]; then
                                _gpu_handover_add "$cur" $'--xml\n--connect\n--help'
                        else
                                _gpu_handover_add "$cur" $'--xml\n--help'
                        fi
                else
                        _gpu_handover_add "$cur" "$(_gpu_handover_domains "$root")"
                fi
                ;;
        restore)
                if [[ $cur == -* ]]; then
                        _gpu_handover_add "$cur" $'--best-effort\n--help'
                elif ((args == 0)); then
                        _gpu_handover_add "$cur" "$(_gpu_handover_domains "$root")"
                fi
                ;;
        status)
                _gpu_handover_add "$cur" $'--json\n--help'
                ;;
        install)
                _gpu_handover_add "$cur" $'--qemu-d\n--hook-binary\n--root\n--help'
                ;;
        uninstall)
                _gpu_handover_add "$cur" $'--qemu-d\n--root\n--help'
                ;;
        claim-boot)
                _gpu_handover_add "$cur" $'--write-rules\n--help'
                ;;
        desktop-rules)
                _gpu_handover_add "$cur" $'--write\n--remove\n--help'
                ;;
        help)
                ((args == 0)) && _gpu_handover_add "$cur" "${commands// /$'\n'}"
                ;;
        hook)
                # As libvirt calls it: hook qemu DOMAIN OP SUBOP EXTRA.
                case $args in
                0) _gpu_handover_add "$cur" "qemu" ;;
                1) _gpu_handover_add "$cur" "$(_gpu_handover_domains "$root")" ;;
                2)
                        local ops="prepare start started stopped release migrate restore reconnect attach"
                        _gpu_handover_add "$cur" "${ops// /$'\n'}"
                        ;;
                3) _gpu_handover_add "$cur" $'begin\nend\n-' ;;
                4) _gpu_handover_add "$cur" "-" ;;
                esac
                ;;
        esac
        return 0
} &&
        complete -F _gpu_handover gpu-handover
