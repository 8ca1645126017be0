# fish completion for fmsh. Install: copy to ~/.config/fish/completions/fmsh.fish (or
# `source` it). Needs fish 3.1.
#
# What it completes (the command line as fmsh/cli.py, fmsh/tasks/commands.py and
# fmsh/replicate/commands.py define it; tests/test_completions.py runs it in fish):
#   fmsh -<Tab>                   the options: -c -s -i -e -u -x -v -n -f -C -a -o -h --norc
#                                 --allow-unbounded --ssh-config --inventory --replica
#                                 --version --help; as the first word also the commands
#                                 --tasks --trace --log --resume --cancel --retry --forget
#                                 --recover --standby --replicate --check
#   fmsh -o <Tab>                 set -o option names (Options.SET_OPTIONS, runtime/state.py;
#                                 fish's `complete` knows no +o, +e... options: not offered)
#   fmsh <Tab>                    files: the script and its arguments, --ssh-config FILE,
#                                 --inventory FILE, --check FILE..., --html/--otel-json FILE
#   fmsh --trace <Tab>            task ids with their names (after every task command), then
#                                 that command's own options: --color <Tab> auto always never
#   fmsh --tasks --status <Tab>   running done failed interrupted cancelled (a,b lists too);
#                                 --name <Tab>: the task names
#   fmsh --log 4 2 --host <Tab>   host names from the inventory, with their groups
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

set -g __fmsh_commands --tasks --trace --log --resume --cancel --retry --forget --recover --standby --replicate --check check
# The options of the commands that take a value (the next word).
set -g __fmsh_valued -n --limit --status --name --html --otel-json --otlp --interval --color --host --from --ttl

# The fmsh on the line when typed as a path (.venv/bin/fmsh), else the one on PATH.
function __fmsh_program
    set -l word (commandline -opc)[1]
    if string match -q -- '*/*' $word; and test -x $word
        echo $word
    else
        echo fmsh
    end
end

# The first word, when it is a command: --tasks, --trace, ... (or the word check).
function __fmsh_command
    set -l tokens (commandline -opc)
    set -q tokens[2]; and contains -- $tokens[2] $__fmsh_commands; and echo $tokens[2]
end

# __fmsh_using COMMAND...: whether the line is one of these commands.
function __fmsh_using
    set -l command (__fmsh_command); or return 1
    contains -- $command $argv
end

# Whether the word being completed is the first word.
function __fmsh_first
    test (count (commandline -opc)) -eq 1
end

# __fmsh_operand N: whether the word being completed is the command's Nth operand (options
# and the values of the options that take one are not operands).
function __fmsh_operand
    set -l n 0
    set -l skip 0
    for token in (commandline -opc)[3..-1]
        if test $skip = 1
            set skip 0
        else if string match -q -- '-?*' $token
            contains -- $token $__fmsh_valued; and set skip 1
        else
            set n (math $n + 1)
        end
    end
    test (math $n + 1) = $argv[1]
end

# __fmsh_shell_at WHERE...: where the shell form (fmsh [OPTIONS] [-c] FILE|COMMAND ARGS)
# is: `options` (an option or the script), `command` (an option or -c's command string),
# `args` (the options have ended, at the first operand, as in bash).
function __fmsh_shell_at
    set -l tokens (commandline -opc)[2..-1]
    set -q tokens[1]; and contains -- $tokens[1] $__fmsh_commands; and return 1
    set -l where options
    set -l skip 0
    for token in $tokens
        if test $skip = 1
            set skip 0
            continue
        end
        test $where = args; and break
        switch $token
            case - --
                set where args
            case --ssh-config --inventory --replica
                set skip 1
            case '--*'
            case '-*' '+*'
                string match -q -- '-*c*' $token; and set where command
                string match -q -- '*o' $token; and set skip 1
            case '*'
                set where args
        end
    end
    contains -- $where $argv
end

function __fmsh_set_options
    printf '%s\n' allexport braceexpand emacs errexit errtrace functrace hashall history \
        ignoreeof interactive-comments keyword monitor noclobber noexec noglob nolog notify \
        nounset onecmd physical pipefail posix privileged verbose vi xtrace
end

# The journal's tasks, newest first: ID<TAB>NAME.
function __fmsh_task_ids
    set -l program (__fmsh_program)
    command -q $program; or return
    command $program --tasks --json -a 2>/dev/null |
        string replace -rf '^\{"id": (\d+)(?:, "name": "([^"]*)")?.*' '$1\t$2'
end

function __fmsh_task_names
    __fmsh_task_ids | string replace -rf '^\d+\t(.+)' '$1'
end

# STATUS or a list a,b,c of them.
function __fmsh_statuses
    set -l head (commandline -ct | string replace -rf '^(.*,)[^,]*$' '$1')
    printf "$head%s\n" running done failed interrupted cancelled
end

# The inventory's hosts: NAME<TAB>the groups it is in.
function __fmsh_hosts
    set -l python python3
    set -l program (command -s (__fmsh_program))
    if test -n "$program"; and read -l line <$program 2>/dev/null; and string match -q '#!*python*' -- $line
        set python (string sub -s 3 -- $line | string split ' ')
    end
    command -q $python[1]; or return
    $python -m fmsh.remote.hostnames 2>/dev/null
end

# A replica URL: file:///PATH or sftp://[USER@]HOST/PATH (no space after these).
function __fmsh_urls
    set -l url (commandline -ct | string replace -r '^--[^=]*=' '')
    switch $url
        case 'sftp://*/*'
            # the path on the host: not listed
        case 'sftp://*'
            set -l user (string match -r '^sftp://([^@]*@)' -- $url)[2]
            __fmsh_hosts | string replace -r '^([^\t]*)' "sftp://$user\$1/"
        case 'file://*'
            __fish_complete_path (string sub -s 8 -- $url) | string replace -r '^' 'file://'
        case '*'
            printf '%s\n' 'file:///'\t'a folder here' 'sftp://'\t'a folder on a host'
    end
end

# --- the first word: the commands -------------------------------------------------------
complete -c fmsh -n __fmsh_first -l tasks -d 'The tasks in the journal'
complete -c fmsh -n __fmsh_first -l trace -d 'A task as a tree of its steps'
complete -c fmsh -n __fmsh_first -l log -d 'The output a task journaled'
complete -c fmsh -n __fmsh_first -l resume -d 'Resume an interrupted task'
complete -c fmsh -n __fmsh_first -l cancel -d 'Cancel a task'
complete -c fmsh -n __fmsh_first -l retry -d 'A task again, from a step'
complete -c fmsh -n __fmsh_first -l forget -d 'Remove a task from the journal'
complete -c fmsh -n __fmsh_first -l recover -d 'Take a replicated journal over'
complete -c fmsh -n __fmsh_first -l standby -d 'Take a replica over when its owner goes silent'
complete -c fmsh -n __fmsh_first -l replicate -d 'Replication status'
complete -c fmsh -n __fmsh_first -l check -d 'Check scripts without running them'

# --- the shell form: fmsh [OPTIONS] [-c] FILE|COMMAND [ARGS...] --------------------------
set -l shell '__fmsh_shell_at options command'
complete -c fmsh -n '__fmsh_shell_at command' -f # -c's command string
complete -c fmsh -n $shell -s c -d 'Run COMMAND (the first operand); then $0 and $1...'
complete -c fmsh -n $shell -s s -d 'Read the script from standard input'
complete -c fmsh -n $shell -s i -d 'Interactive, even if stdin is not a terminal'
complete -c fmsh -n $shell -l norc -d 'Do not read the rc file'
complete -c fmsh -n $shell -l allow-unbounded -d 'Start a task that fmsh check finds unbounded'
complete -c fmsh -n $shell -l ssh-config -r -F -d 'The ssh config file for remote stages'
complete -c fmsh -n $shell -l inventory -r -F -d 'The inventory file'
complete -c fmsh -n $shell -l replica -x -a '(__fmsh_urls)' -d 'Replicate the journal to URL'
complete -c fmsh -n $shell -s e -d 'set -e: exit when a command fails'
complete -c fmsh -n $shell -s u -d 'set -u: an unset variable is an error'
complete -c fmsh -n $shell -s x -d 'set -x: print commands as they run'
complete -c fmsh -n $shell -s v -d 'set -v: print input as it is read'
complete -c fmsh -n $shell -s n -d 'set -n: read and check, do not run'
complete -c fmsh -n $shell -s f -d 'set -f: no pathname expansion'
complete -c fmsh -n $shell -s C -d 'set -C: > does not overwrite files'
complete -c fmsh -n $shell -s a -d 'set -a: export every variable assigned'
complete -c fmsh -n $shell -s o -x -a '(__fmsh_set_options)' -d 'set -o OPTION'
complete -c fmsh -n $shell -l version -d 'Print the version'
complete -c fmsh -n $shell -s h -l help -d 'Print the options'

# --- the commands' own options and operands --------------------------------------------
complete -c fmsh -n "__fmsh_using $__fmsh_commands" -s h -l help -d 'Show the help'
complete -c fmsh -n '__fmsh_using --tasks --trace --log --resume --cancel --retry --forget --recover --standby --replicate' -f
set -l task_id '__fmsh_operand 1; and __fmsh_using --trace --log --resume --cancel --retry --forget'
complete -c fmsh -n $task_id -a '(__fmsh_task_ids)'

complete -c fmsh -n '__fmsh_using --tasks' -s a -l all -d 'Every task (the default is the 20 newest)'
complete -c fmsh -n '__fmsh_using --tasks' -s n -l limit -x -d 'How many, newest first'
complete -c fmsh -n '__fmsh_using --tasks' -l status -x -a '(__fmsh_statuses)' -d 'Only these statuses'
complete -c fmsh -n '__fmsh_using --tasks' -l name -x -a '(__fmsh_task_names)' -d 'Only tasks whose name matches'
complete -c fmsh -n '__fmsh_using --tasks' -l json -d 'One JSON object a line'

complete -c fmsh -n '__fmsh_using --trace' -l json -d 'The trace as one JSON document'
complete -c fmsh -n '__fmsh_using --trace' -l output -d "With --json: each step's output too"
complete -c fmsh -n '__fmsh_using --trace' -l hosts -d 'Each host on a line'
complete -c fmsh -n '__fmsh_using --trace' -l html -r -F -d 'Write a self-contained HTML page'
complete -c fmsh -n '__fmsh_using --trace' -l otel-json -r -F -d 'Write OpenTelemetry spans (OTLP/JSON)'
complete -c fmsh -n '__fmsh_using --trace' -l otlp -x -d 'Send OpenTelemetry spans to an OTLP/HTTP URL'
complete -c fmsh -n '__fmsh_using --trace' -s f -l follow -d 'Redraw the tree as the task runs'
complete -c fmsh -n '__fmsh_using --trace' -l interval -x -d 'With --follow: seconds between looks'
complete -c fmsh -n '__fmsh_using --trace' -l color -x -a 'auto always never' -d 'Colour the tree'

complete -c fmsh -n '__fmsh_using --log' -l host -x -a '(__fmsh_hosts)' -d "Only this host's output"
complete -c fmsh -n '__fmsh_using --log' -l json -d 'One JSON object a line'
complete -c fmsh -n '__fmsh_using --resume' -l accept-changes -d 'Run the script as it is now'
complete -c fmsh -n '__fmsh_using --retry' -l from -x -d 'The first step to run again'

complete -c fmsh -n '__fmsh_using --recover --standby' -l from -x -a '(__fmsh_urls)' -d 'The replica URL'
complete -c fmsh -n '__fmsh_using --recover' -l no-resume -d 'Restore and claim, but do not resume'
complete -c fmsh -n '__fmsh_using --standby' -l ttl -x -d 'Silence before taking over (10s)'
complete -c fmsh -n '__fmsh_using --replicate; and __fmsh_operand 1' -a status -d 'Epoch, owner, heartbeat, last sync'

complete -c fmsh -n '__fmsh_using --check check' -l json -d 'One JSON object a script'
