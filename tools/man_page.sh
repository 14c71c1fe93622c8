#!/bin/sh
# Writes googlenet's man page from the program's own --help and --version (help2man), with a
# section per command from `googlenet COMMAND --help`, so the page says what the binary does.
#   tools/man_page.sh GOOGLENET_BINARY OUT.1
set -eu
bin=$1
out=$2
include=$(mktemp)
trap 'rm -f "$include"' EXIT
{
    echo "[COMMANDS]"
    for command in $("$bin" --help | sed -n '/^Subcommands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'); do
        echo ".SS googlenet $command"
        echo ".nf"
        # roff: a backslash is \e, and a line may not start with a dot or a quote.
        "$bin" "$command" --help | sed -e 's/\\/\\e/g' -e "s/^\([.']\)/\\\\\&\1/" -e 's/^Usage: [^ ]*googlenet/Usage: googlenet/'
        echo ".fi"
    done
    echo "[FILES]"
    echo "See docs/usage.md in the source tree for every command's output files and their formats."
} >"$include"
# The version line alone: the build's commit and the machine it ran on are no part of the page.
help2man --version-string "$("$bin" --version | head -n 1 | cut -d' ' -f2)" --no-info --no-discard-stderr --name "GoogLeNet (Inception v1): train, evaluate, run and export" \
    --section 1 --include "$include" --output "$out" "$bin"
