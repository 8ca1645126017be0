# bash completion for fmsh. Install: source this file from ~/.bashrc, or copy it to
# /usr/share/bash-completion/completions/fmsh. Needs bash 4.1 (not bash-completion).
#
# What it completes (the command line as fmsh/cli.py, fmsh/tasks/commands.py and
# fmsh/replicate/commands.py define it; tests/test_completions.py runs it in bash):
#   fmsh -<Tab>                   the options: -c -s -i -e -u -x -v -n -f -C -a -o -h --norc
#                                 --allow-unbounded --ssh-config --inventory --replica
#                                 --version --help (+o, +e... after a +); as the first word
#                                 also the commands --tasks --trace --log --resume --cancel
#                                 --retry --forget --recover --standby --replicate --check
#   fmsh -o <Tab>   +o, -eo       set -o option names (Options.SET_OPTIONS, runtime/state.py)
#   fmsh <Tab>                    files: the script and its arguments, --ssh-config FILE,
#                                 --inventory FILE, --check FILE..., --html/--otel-json FILE
#   fmsh --trace <Tab>            task ids (after every task command), then that command's
#                                 own options: --trace 4 --color <Tab> gives auto always never
#   fmsh --tasks --status <Tab>   running done failed interrupted cancelled (a,b lists too);
#                                 --name <Tab>: the task names
#   fmsh --log 4 2 --host <Tab>   host names from the inventory
#   fmsh --recover --from <Tab>   file:/// and sftp://, then sftp://HOST/ (inventory hosts);
#                                 the same for --standby --from and --replica
#   fmsh --replicate <Tab>        status
#
# Where the names come from (asked only when that word is completed; errors are silenced):
#   task ids    `fmsh --tasks --json -a`, a JSON object a line that starts {"id": N, "name":
#               "NAME", ...}: about 60 ms; nothing without a journal (FMSH_JOURNAL as fmsh
#               finds it).
#   host names  the inventory, FMSH_INVENTORY or $XDG_CONFIG_HOME (~/.config)/fmsh/
#               inventory.toml, listed by `python -m fmsh.remote.hostnames` in the
#               Python that runs fmsh (the #! line of the fmsh launcher, else python3): each
#               [hosts] nodeset such as "web[01-20]" and each group expanded to its hosts as
#               fmsh expands them, about 70 ms. (`fmsh -c 'hosts PATTERN'` needs a pattern
#               and runs `ssh -G` for every host: not a way to list them all.)
# The fmsh asked is the one on the line when typed as a path (.venv/bin/fmsh), else `fmsh`.

_fmsh_set_options="allexport braceexpand emacs errexit errtrace functrace hashall history
    ignoreeof interactive-comments keyword monitor noclobber noexec noglob nolog notify
    nounset onecmd physical pipefail posix privileged verbose vi xtrace"
# The first-word commands and the options of theirs that take a value (the next word).
_fmsh_commands="--tasks --trace --log --resume --cancel --retry --forget --recover --standby
    --replicate --check"
_fmsh_valued="-n --limit --status --name --html --otel-json --otlp --interval --color --host
    --from --ttl"

# The fmsh on the line when typed as a path (.venv/bin/fmsh), else the one on PATH.
_fmsh_program() {
    local word=${COMP_WORDS[0]}
    if [[ $word == */* && -x $word ]]; then printf '%s\n' "$word"; else echo fmsh; fi
}

# The journal's tasks, newest first: "ID NAME" a line.
_fmsh_task_list() {
    "$(_fmsh_program)" --tasks --json -a 2>/dev/null |
        sed -n 's/^{"id": \([0-9]*\), "name": "\([^"]*\)".*/\1 \2/p; s/^{"id": \([0-9]*\),.*/\1/p'
}

# The inventory's hosts, a line each: NAME<TAB>DESCRIPTION (the groups it is in).
_fmsh_hosts() {
    local python=python3 line program
    program=$(type -P "$(_fmsh_program)")
    if IFS= read -r line 2>/dev/null <"$program" && [[ $line == '#!'*python* ]]; then
        python=${line#\#!}
    fi
    # $python unquoted: a #! line may be "/usr/bin/env python3".
    $python -m fmsh.remote.hostnames 2>/dev/null
}

# words, cword, cur, prev: the line's words as typed. readline cuts a word at = : @ and
# the other COMP_WORDBREAKS characters (--from=sftp://me@db1 is seven COMP_WORDS), so the
# pieces with no blank between them are joined again. lead: the start of cur that the
# completion leaves in place (readline replaces only what follows its last break
# character, or an @ or $ with what follows); _fmsh cuts it from each candidate.
_fmsh_words() {
    local i piece blank rest=${COMP_LINE:0:COMP_POINT} breaks=${COMP_WORDBREAKS-"\"'@><=;|&(:"}
    breaks=${breaks//[[:space:]]/}
    words=() cword=-1
    for ((i = 0; i <= COMP_CWORD; i++)); do
        piece=${COMP_WORDS[i]}
        blank=${rest%%[![:space:]]*}
        rest=${rest#"$blank"}
        rest=${rest#"$piece"}
        if ((i == 0)) || [[ -n $blank ]]; then
            words+=("$piece")
            ((cword++))
        else
            words[cword]+=$piece
        fi
    done
    cur=${words[cword]} prev=${words[cword - 1]}
    lead=${cur%"${cur##*[$breaks]}"}
    [[ $lead == *[@$] ]] && lead=${lead%?}
    return 0
}

# COMPREPLY: the words of $1 that start with $cur.
_fmsh_reply() {
    mapfile -t COMPREPLY < <(compgen -W "$1" -- "$cur")
}

_fmsh_reply_files() {
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")
}

# A replica URL: file:///PATH or sftp://[USER@]HOST/PATH (no space after it).
_fmsh_reply_url() {
    local user found
    case $cur in
        sftp://*/*) return ;; # the path on the host: not listed
        sftp://*)
            user=${cur#sftp://}
            [[ $user == *@* ]] && user=${user%%@*}@ || user=
            found=$(_fmsh_hosts | cut -f1 | sed "s|.*|sftp://$user&/|")
            ;;
        file://*) found=$(compgen -f -- "${cur#file://}" | sed 's|^|file://|') ;;
        *) found="file:/// sftp://" ;;
    esac
    compopt -o nospace 2>/dev/null
    _fmsh_reply "$found"
}

# How many operands of the command come before the word being completed (options and the
# values of the options that take one are not operands).
_fmsh_operands() {
    local i n=0
    for ((i = 2; i < cword; i++)); do
        case ${words[i]} in
            -?*) [[ " "$_fmsh_valued" " == *[[:space:]]"${words[i]}"[[:space:]]* ]] && ((i++)) ;;
            *) ((n++)) ;;
        esac
    done
    echo "$n"
}

# fmsh --tasks, --trace ID, ...: the command's options, the values they take, its operands.
_fmsh_command() {
    local options
    case $1 in
        --tasks) options="-a --all -n --limit --status --name --json" ;;
        --trace) options="--json --output --hosts --html --otel-json --otlp -f --follow --interval --color" ;;
        --log) options="--host --json" ;;
        --resume) options="--accept-changes" ;;
        --retry) options="--from" ;;
        --recover) options="--from --no-resume" ;;
        --standby) options="--from --ttl" ;;
        --check | check) options="--json" ;;
    esac
    case $1:$prev in
        --tasks:--status)
            local head=
            [[ $cur == *,* ]] && head=${cur%,*},
            mapfile -t COMPREPLY < <(compgen -P "$head" -W "running done failed interrupted cancelled" -- "${cur##*,}")
            return ;;
        --tasks:--name) _fmsh_reply "$(_fmsh_task_list | cut -s -d' ' -f2)"; return ;;
        --trace:--html | --trace:--otel-json) _fmsh_reply_files; return ;;
        --trace:--color) _fmsh_reply "auto always never"; return ;;
        --log:--host) _fmsh_reply "$(_fmsh_hosts | cut -f1)"; return ;;
        --recover:--from | --standby:--from) _fmsh_reply_url; return ;;
    esac
    # The value of an option with nothing to list (a number, a step, a duration, a URL).
    [[ " $options " == *" $prev "* && " "$_fmsh_valued" " == *[[:space:]]"$prev"[[:space:]]* ]] && return
    if [[ $cur == -* ]]; then
        _fmsh_reply "$options -h --help"
        return
    fi
    case $1:$(_fmsh_operands) in
        --trace:0 | --log:0 | --resume:0 | --cancel:0 | --retry:0 | --forget:0)
            _fmsh_reply "$(_fmsh_task_list | cut -d' ' -f1)" ;;
        --replicate:0) _fmsh_reply "status" ;;
        --check:* | check:*) _fmsh_reply_files ;;
    esac
}

# The shell form, fmsh [OPTIONS] [-c] FILE|COMMAND [ARGS...]: options until the first
# operand (bash's rule), -o and the other options that take the next word, then operands.
_fmsh_shell() {
    local i word takes value_of= command_string= ended=
    for ((i = 1; i < cword; i++)); do
        word=${words[i]} takes=
        case $word in
            - | --) ended=1; ((i++)); break ;;
            --ssh-config | --inventory | --replica) takes=$word ;;
            --*) ;;
            [-+]?*)
                [[ $word == -*c* ]] && command_string=1
                [[ $word == *o ]] && takes=-o
                ;;
            *) break ;;
        esac
        if [[ -n $takes ]] && ((++i == cword)); then
            value_of=$takes
            break
        fi
    done
    case $value_of in
        -o) _fmsh_reply "$_fmsh_set_options"; return ;;
        --replica) _fmsh_reply_url; return ;;
        ?*) _fmsh_reply_files; return ;;
    esac
    if ((i == cword)) && [[ -z $ended ]]; then # an option, or the first operand
        case $cur in
            --ssh-config=* | --inventory=*)
                local option=${cur%%=*}=
                cur=${cur#*=}
                _fmsh_reply_files
                COMPREPLY=("${COMPREPLY[@]/#/$option}")
                return ;;
            --replica=*)
                cur=${cur#*=}
                _fmsh_reply_url
                COMPREPLY=("${COMPREPLY[@]/#/--replica=}")
                return ;;
            -*)
                local options="-c -s -i -e -u -x -v -n -f -C -a -o -h --norc --allow-unbounded
                    --ssh-config --inventory --replica --version --help"
                ((cword == 1)) && options+=" $_fmsh_commands"
                _fmsh_reply "$options"
                return ;;
            +*) _fmsh_reply "+o +e +u +x +v +n +f +C +a"; return ;;
        esac
        [[ -n $command_string ]] && return # -c's command string
    fi
    _fmsh_reply_files
}

_fmsh() {
    local words cword cur prev lead
    COMPREPLY=()
    _fmsh_words
    if ((cword > 1)) && [[ " $_fmsh_commands check " == *[[:space:]]"${words[1]}"[[:space:]]* ]]; then
        local option=
        # --option=VALUE: complete VALUE as the word after --option.
        if [[ $cur == --*=* ]]; then
            option=${cur%%=*}= prev=${cur%%=*} cur=${cur#*=}
        fi
        _fmsh_command "${words[1]}"
        [[ -n $option ]] && COMPREPLY=("${COMPREPLY[@]/#/$option}")
    else
        _fmsh_shell
    fi
    [[ -n $lead ]] && COMPREPLY=("${COMPREPLY[@]#"$lead"}")
    return 0
}

complete -o filenames -F _fmsh fmsh
