#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# check_completion.sh - bash completion for hr offers its commands, the
# subcommands and options of a command, and the names of the site's blocks
# (from `hr pmm ls`) where a command takes a block.
#
#   check_completion.sh COMPLETION_FILE HR_DIR KEEP_BLOCK
#
# COMPLETION_FILE is contrib/hr.bash-completion or the installed one; the hr
# in HR_DIR is the one completion runs; KEEP_BLOCK (tests/keep_block.c)
# leaves a block behind in a throwaway site.  Needs bash-completion.
set -euo pipefail
file=${1:?usage: check_completion.sh COMPLETION_FILE HR_DIR KEEP_BLOCK}
export PATH=${2:?no hr directory}:$PATH
keep=${3:?no keep_block program}
lib=/usr/share/bash-completion/bash_completion
[ -r "$lib" ] || { echo "no $lib: apt-get install bash-completion" >&2; exit 2; }
site=$(mktemp -d /dev/shm/hrcomp.XXXXXX)
trap 'rm -rf "$site"' EXIT
export HR_SITE=$site
bad=0

offers() { # words...: what completing the last word offers, one a line
    bash -c 'source "$1"; source "$2"; shift 2
        COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
        COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
        _hr; printf "%s\n" "${COMPREPLY[@]}"' _ "$lib" "$file" "$@"
}
expect() { # "words" "what is offered, space-separated"
    local got
    read -ra w <<< "$1"
    [[ $1 == *" " ]] && w+=("")
    got=$(offers "${w[@]}" | sort | tr '\n' ' ')
    if [ "$got" != "$2 " ]; then
        echo "'$1': offered '$got', expected '$2 '"
        bad=$((bad + 1))
    fi
}

hr site create >/dev/null
"$keep" "kept.one"
"$keep" "kept.two"
expect "hr " "--help --json --site --version akill arun heap log metrics pmm ps site upgrade"
expect "hr upgrade --t" "--timeout"
expect "hr pmm s" "show"
expect "hr site " "--help cold create destroy info restart set start stop"
expect "hr site set hrCtrl.st" "hrCtrl.stopTimeout="
expect "hr arun --st" "--standby --stop-timeout"
expect "hr site create --max-b" "--max-badness --max-blocks"
expect "hr pmm check --" "--bank --json --medium --repair"
expect "hr pmm ls --medium " "DISK RAM"
expect "hr pmm show " "kept.one kept.two"
expect "hr pmm free kept.t" "kept.two"
expect "hr --site $site pmm show kept.o" "kept.one"
expect "hr heap stat kept.o" "kept.one"
expect "hr ps --" "--help --json"
expect "hr metrics --" "--help --listen"
expect "hr site set hrCtrl.l" "hrCtrl.logSize="
[ $bad = 0 ] && echo "completion: commands, subcommands, options and block names offered"
[ $bad = 0 ]
