# shellcheck shell=bash disable=SC2034  # PORT, SF, KIDS, PIDS: for the callers
# Shared by scripts/bench and scripts/attack: root for apt-get, nginx's
# path, the processes they start (and their children, for a last sweep by
# pid and start time), free ports on 127.0.0.1, log tails. Sourced, not
# executed; the caller defines die and say, and the arrays PIDS and KIDS
# and the string USED_PORTS (" ").

as_root() {
    if [[ $(id -u) -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null; then
        sudo "$@"
    else
        die "need root or sudo for: $*"
    fi
}

find_nginx() {
    NGINX=$(command -v nginx || true)
    if [[ -z $NGINX && -x /usr/sbin/nginx ]]; then NGINX=/usr/sbin/nginx; fi
}

# /proc/PID/stat fields after "(comm) ": [0]=state [1]=ppid ... [19]=starttime
stat_fields() {
    local st
    { st=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
    read -r -a SF <<<"${st##*) }"
}

# children_of PID: the pids whose parent is PID, one a line
children_of() {
    local f pid
    for f in /proc/[0-9]*; do
        pid=${f#/proc/}
        stat_fields "$pid" || continue
        [[ ${SF[1]} == "$1" ]] && echo "$pid"
    done
    return 0
}

# workers_of PID: its children less preforkd's keeper and status process,
# sorted, one a line
workers_of() {
    local pid
    for pid in $(children_of "$1"); do
        case $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) in
            "preforkd: keeper"*|"preforkd: status"*) ;;
            *) echo "$pid" ;;
        esac
    done | sort -n
}

forget() {  # forget PID: drop a reaped process from PIDS
    local keep=() p
    for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done
    PIDS=(${keep[@]+"${keep[@]}"})
}

remember_kids() {  # remember_kids MASTERPID: note its children for cleanup
    local k
    while read -r k; do
        stat_fields "$k" || continue
        KIDS+=("$k:${SF[19]}")
    done < <(children_of "$1")
}

port_free() {
    if command -v python3 >/dev/null; then
        python3 - "$1" 2>/dev/null <<'EOF'
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(1)
EOF
    else
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 1; fi
        return 0
    fi
}

pick_port() {  # sets PORT to a free port below the ephemeral range
    local i p
    for ((i = 0; i < 100; i++)); do
        p=$((20000 + RANDOM % 12000))
        [[ $USED_PORTS == *" $p "* ]] && continue
        if port_free "$p"; then
            USED_PORTS+="$p "
            PORT=$p
            return 0
        fi
    done
    die "found no free port on 127.0.0.1"
}

log_tail() {  # log_tail FILE...: last lines of the logs that exist
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        printf -- '--- %s (last lines)\n' "${f##*/}" >&2
        tail -n 15 "$f" >&2
    done
}
