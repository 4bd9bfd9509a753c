#!/bin/sh
# N `tapsec connect` processes at once against one `tapsec listen PROTOCOL --echo --forever`
# (tcpcrypt on the concurrent TCP server; curvecp, minimalt, zrtp on the datagram server),
# each sending one line and checking its echo; prints the wall time until every client has
# exited, how many got their own line back, and the listener's RSS at the end. Loopback
# only; the listener is stopped with SIGTERM (its exit status is printed too).
#   benchmarks/load_listeners.sh build/tools/tapsec [N] [protocols...]
set -u
tool=${1:?usage: load_listeners.sh TAPSEC [N] [protocols...]}
n=${2:-20}
shift 2 2>/dev/null || shift $#
protocols=${*:-tcpcrypt curvecp minimalt zrtp}
work=$(mktemp -d)
[ -n "${KEEP:-}" ] && echo "keeping $work" || trap 'rm -rf "$work"' EXIT
port=47400

for protocol in $protocols; do
    port=$((port + 1))
    dir="$work/$protocol"
    mkdir -p "$dir"
    listen_extra=""
    connect_extra=""
    case $protocol in
        curvecp)
            command -v curvecpmakekey >/dev/null || { echo "$protocol: curvecpmakekey missing, skipped"; continue; }
            curvecpmakekey "$dir/key"
            listen_extra="--key-dir $dir/key"
            connect_extra="--server-key $(curvecpprintkey "$dir/key")";;
        minimalt)
            listen_extra="--directory $dir/dir.hex";;
    esac
    # shellcheck disable=SC2086
    "$tool" listen "$protocol" "127.0.0.1:$port" --echo --forever --quiet $listen_extra 2>"$dir/server.log" &
    server=$!
    sleep 1
    if [ "$protocol" = minimalt ]; then
        connect_extra="--directory $dir/dir.hex --server-key $(grep -o -- '--server-key [0-9a-f]*' "$dir/server.log" | cut -d' ' -f2)"
    fi
    start=$(date +%s.%N)
    clients=""
    i=0
    while [ $i -lt "$n" ]; do
        # zrtp sends stdin chunks as media once keyed: wait a moment before the line.
        # shellcheck disable=SC2086
        (if [ "$protocol" = zrtp ]; then sleep 1; fi; echo "line of client $i"; sleep 1) |
            timeout 30 "$tool" connect "$protocol" "127.0.0.1:$port" $connect_extra >"$dir/out.$i" 2>"$dir/err.$i" &
        clients="$clients $!"
        i=$((i + 1))
    done
    # shellcheck disable=SC2086
    wait $clients
    end=$(date +%s.%N)
    ok=0
    i=0
    while [ $i -lt "$n" ]; do
        grep -qx "line of client $i" "$dir/out.$i" && ok=$((ok + 1))
        i=$((i + 1))
    done
    rss=$(awk '/VmRSS/ {print $2}' "/proc/$server/status" 2>/dev/null)
    kill -TERM "$server"
    wait "$server"
    status=$?
    printf '%-9s %3d clients at once: %3d echoed, %.2f s wall (incl. each client'"'"'s ~1-2 s of idle stdin), listener RSS %s KiB, exit %d after SIGTERM\n' \
        "$protocol" "$n" "$ok" "$(echo "$end - $start" | bc)" "${rss:-?}" "$status"
done
