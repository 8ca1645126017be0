# bash completion for fmsh: options, `-o` option names, task ids after the task
# commands (--resume, --trace...), then script files.
# Install: source this file, or copy it to /usr/share/bash-completion/completions/fmsh.
_fmsh_task_ids() {
    fmsh --tasks -a --json 2>/dev/null | sed -n 's/^{"id": \([0-9]*\),.*/\1/p'
}
_fmsh() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
    case ${COMP_WORDS[1]} in
        --tasks)
            COMPREPLY=($(compgen -W "-a --all -n --limit --status --name --json --help" -- "$cur"))
            [[ $prev == --status ]] && COMPREPLY=($(compgen -W "running done failed interrupted cancelled" -- "$cur"))
            return ;;
        --check|check)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--json --help" -- "$cur"))
            else
                COMPREPLY=($(compgen -f -- "$cur"))
            fi
            return ;;
        --trace|--log|--resume|--cancel|--retry|--forget)
            if [[ $cur == -* ]]; then
                COMPREPLY=($(compgen -W "--accept-changes --from --host --help" -- "$cur"))
            elif (( COMP_CWORD == 2 )); then
                COMPREPLY=($(compgen -W "$(_fmsh_task_ids)" -- "$cur"))
            fi
            return ;;
    esac
    case $prev in
        -o|+o)
            COMPREPLY=($(compgen -W "allexport errexit noglob noclobber noexec nounset pipefail verbose xtrace" -- "$cur"))
            return ;;
        -c)
            return ;;
        --ssh-config|--inventory)
            COMPREPLY=($(compgen -f -- "$cur"))
            return ;;
    esac
    if [[ $cur == -* || $cur == +* ]]; then
        COMPREPLY=($(compgen -W "-c -s -i -e -u -x -v -n -f -C -a -o +e +u +x +o --norc --allow-unbounded --ssh-config --inventory --version --help --check --tasks --trace --log --resume --cancel --retry --forget" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _fmsh fmsh
