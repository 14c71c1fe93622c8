# bash completion for googlenet: its commands, each command's flags, and their values (choices,
# built-in models, files, folders). Read from `googlenet --help` and `googlenet COMMAND --help`
# at completion time, so it never lists a flag the program does not have.
_googlenet() {
    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
    local bin=${COMP_WORDS[0]} command="" i
    for ((i = 1; i < COMP_CWORD; i++)); do
        case ${COMP_WORDS[i]} in
            -*) ;;
            *) command=${COMP_WORDS[i]}; break ;;
        esac
    done
    COMPREPLY=()
    if [[ -z $command ]]; then
        local commands
        commands=$("$bin" --help 2>/dev/null | sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p')
        mapfile -t COMPREPLY < <(compgen -W "$commands --help --version" -- "$cur")
        return
    fi
    local help
    help=$("$bin" "$command" --help 2>/dev/null) || return
    if [[ $prev == -* && $prev != "$command" ]]; then
        # The flag's own line: "  -b,--batch-size INT:...", "  --mode TEXT:{train,infer}=train", "  --nesterov".
        local line
        line=$(grep -E -- "^  (-[a-zA-Z],)?${prev}( |$)|^  ${prev},--" <<<"$help" | head -n 1)
        if [[ -n $line ]]; then
            local spec=${line#*"$prev"}
            spec=${spec#,--*[ ]}
            spec=${spec# }
            spec=${spec%% *}
            if [[ $prev == --model || $prev == -m ]]; then
                local models
                models=$(grep -o 'A built-in model ([^)]*)' <<<"$help" | head -n 1 | sed 's/.*(\(.*\))/\1/; s/,//g')
                mapfile -t COMPREPLY < <(compgen -W "$models" -- "$cur"; compgen -f -X '!*.json' -- "$cur"; compgen -d -- "$cur")
                return
            fi
            case $spec in
                *'{'*'}'*)
                    local choices=${spec#*\{}
                    choices=${choices%%\}*}
                    mapfile -t COMPREPLY < <(compgen -W "${choices//,/ }" -- "$cur")
                    return ;;
                *:DIR*) mapfile -t COMPREPLY < <(compgen -d -- "$cur"); return ;;
                TEXT* | FILE*) mapfile -t COMPREPLY < <(compgen -f -- "$cur"); return ;;
                INT* | UINT* | FLOAT*) return ;;
            esac
        fi
    fi
    if [[ $cur == -* || $command != predict ]]; then
        local flags
        flags=$(grep -oE -- '^  (-[a-zA-Z],)?--[a-z][a-z0-9-]*' <<<"$help" | sed 's/^ *//; s/,/ /')
        mapfile -t COMPREPLY < <(compgen -W "$flags" -- "$cur")
        [[ ${#COMPREPLY[@]} -gt 0 || $cur == -* ]] && return
    fi
    mapfile -t COMPREPLY < <(compgen -f -- "$cur")  # predict's images, plot's run folder
}
complete -o filenames -F _googlenet googlenet
