#!/bin/sh
# The chaos harness's `git` (tests/support/chaos.py puts a copy first on PATH).
#
# Every call is logged to $RCFLOW_CHAOS_DIR/log as "W<TAB>argv<NUL>" (a write) or "R…"; a call
# is a write unless it is on the read-only allow-list below, so a git write rcflow adds later is
# covered without anyone editing this file. The file $RCFLOW_CHAOS_DIR/mode says when to crash:
#   before N | after N   SIGKILL the whole process group of the run before/after the Nth write
#                        (writes counted together with the forge's HTTP writes, same log)
#   random K SECONDS     SIGKILL the group SECONDS after the Kth call (any call) started
# The run's process group id is in $RCFLOW_CHAOS_DIR/pgid (the harness starts rcflow in a new
# session, so that group is rcflow and everything it started: what a crashed machine loses).
real=${RCFLOW_CHAOS_REAL_GIT:?}
dir=${RCFLOW_CHAOS_DIR:-}
[ -n "$dir" ] && [ -d "$dir" ] || exec "$real" "$@"

sub= found= skip= npos=0 first= opts=" "
for a in "$@"; do
    if [ -z "$found" ]; then
        if [ -n "$skip" ]; then skip=; continue; fi
        case $a in
            -C|-c|--git-dir|--work-tree|--namespace|--exec-path|--config-env|--super-prefix) skip=1 ;;
            -*) ;;
            *) sub=$a found=1 ;;
        esac
    else
        case $a in
            -*) opts="$opts$a " ;;
            *) npos=$((npos + 1)); [ $npos = 1 ] && first=$a ;;
        esac
    fi
done

has() { # has OPTION... : whether any of the options was given after the subcommand
    for o in "$@"; do
        case $opts in *" $o "*|*" $o="*) return 0 ;; esac
    done
    return 1
}

kind=W
case $sub in
    ""|status|for-each-ref|ls-remote|cat-file|rev-parse|rev-list|log|show|diff|diff-tree|\
    diff-index|diff-files|var|merge-base|version|ls-files|ls-tree|show-ref|describe|name-rev|\
    check-ref-format|check-ignore|check-attr|count-objects|verify-commit|verify-tag|shortlog|\
    blame|grep|help|cherry|whatchanged|archive|get-tar-commit-id|fsck)
        kind=R ;;
    config)
        if has --get --get-all --get-regexp --get-urlmatch --list -l; then kind=R
        elif [ $npos = 1 ] && ! has --unset --unset-all --add --replace-all --remove-section \
            --rename-section --edit -e; then kind=R; fi ;;
    tag)
        if has -l --list -v --verify --contains --no-contains --points-at --merged --no-merged
        then kind=R
        elif [ $npos = 0 ] && ! has -d --delete; then kind=R; fi ;;
    branch)
        if has -d -D --delete -m -M --move -c -C --copy -u --set-upstream-to --unset-upstream \
            -f --force --edit-description; then kind=W
        elif [ $npos = 0 ] || has --list -l --show-current; then kind=R; fi ;;
    remote)
        case $first in ""|get-url|show) kind=R ;; esac ;;
    worktree|stash)
        case $first in list|show) kind=R ;; esac ;;
    notes)
        case $first in ""|list|show) kind=R ;; esac ;;
    hash-object)
        has -w && kind=O || kind=R ;;
    mktree|write-tree|commit-tree)
        kind=O ;;
    read-tree|update-index)
        # Into a scratch index (GIT_INDEX_FILE): what another command can observe is unchanged.
        [ -n "${GIT_INDEX_FILE:-}" ] && kind=O ;;
    fetch)
        # Objects only, no ref and no FETCH_HEAD (observe's fetch): nothing observable changes.
        has --no-write-fetch-head && has --refmap= && kind=O ;;
    symbolic-ref)
        if [ $npos -le 1 ] && ! has -d --delete; then kind=R; fi ;;
esac

# "O" calls write only objects (or a scratch index): unobservable by any command, so a crash
# before or after one is the same crash as before the next W write; they are no crash points
# of their own (random SIGKILLs still land inside them).
# Builtins only from here to the real git (a chaos run makes hundreds of calls): the counters
# are files read and written under the lock, the log's records end with NUL (messages hold
# newlines).
exec 9>>"$dir/lock"
flock 9
calls=0 writes=0
[ -f "$dir/calls" ] && read -r calls <"$dir/calls"
[ -f "$dir/writes" ] && read -r writes <"$dir/writes"
calls=$((calls + 1))
echo $calls >"$dir/calls"
if [ $kind = W ]; then
    writes=$((writes + 1))
    echo $writes >"$dir/writes"
fi
printf '%s\t%s\0' "$kind" "$*" >>"$dir/log"
flock -u 9
exec 9>&-

mode= n= secs=
[ -f "$dir/mode" ] && read -r mode n secs <"$dir/mode"

pgid() {
    i=0
    while [ ! -s "$dir/pgid" ] && [ $i -lt 500 ]; do sleep 0.01; i=$((i + 1)); done
    read -r g <"$dir/pgid"
    echo "$g"
}

crash() { # crash REASON: record why, then SIGKILL the run's whole process group (this shell too)
    g=$(pgid)
    printf '%s\n' "$1" >"$dir/crashed"
    kill -9 -"$g"
    sleep 5 # never reached: this shell is in the group
    exit 137
}

case $mode in
    before)
        [ $kind = W ] && [ "$writes" = "$n" ] && crash "before write $n: git $*" ;;
    after)
        if [ $kind = W ] && [ "$writes" = "$n" ]; then
            "$real" "$@"
            crash "after write $n: git $*"
        fi ;;
    random)
        if [ "$calls" = "$n" ]; then
            g=$(pgid)
            (sleep "$secs"; printf '%s\n' "${secs}s into call $n: git $*" >"$dir/crashed"
             kill -9 -"$g") </dev/null >/dev/null 2>&1 &
        fi ;;
esac
exec "$real" "$@"
