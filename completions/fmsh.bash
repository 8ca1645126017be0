# bash completion for fmsh: options, `-o` option names, then script files.
# Install: source this file, or copy it to /usr/share/bash-completion/completions/fmsh.
_fmsh() {
    local cur prev
    cur=${COMP_WORDS[COMP_CWORD]}
    prev=${COMP_WORDS[COMP_CWORD-1]}
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
        COMPREPLY=($(compgen -W "-c -s -i -e -u -x -v -n -f -C -a -o +e +u +x +o --norc --ssh-config --inventory --version --help" -- "$cur"))
        return
    fi
    COMPREPLY=($(compgen -f -- "$cur"))
}
complete -o filenames -F _fmsh fmsh
