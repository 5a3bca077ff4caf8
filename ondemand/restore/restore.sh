#!/bin/sh
# Restores one PostgreSQL backup into PGDATABASE before the database is handed
# out: plain SQL, gzip-compressed SQL or pg_dump custom format, read from
# BACKUP_URL (https only, address checked and pinned) or BACKUP_FILE; then
# ANALYZE, then a completion marker that readiness checks wait for. Every
# failure ends with one line on stderr, a non-zero exit and no marker.
# Inputs and knobs: docs/ondemand.md; names other code imports:
# ondemand/restore/index.ts.
#
#   restore.sh              restore (the default)
#   restore.sh check        validate the inputs and BACKUP_URL only; print the pinned address
#   restore.sh fetch FILE   download BACKUP_URL into FILE with the same checks, no database
#
# POSIX sh has no pipefail, so every stage that can fail runs as its own
# background job whose status the main shell collects with `wait` or from a
# status file; streams pass through named pipes in a private work directory.
set -eu

DEFAULT_MARKER=dbaas-restore.done
# 10 GiB and one hour: far above a dev database, low enough to stop a runaway.
DEFAULT_MAX_BYTES=10737418240
DEFAULT_MAX_SECONDS=3600
HEAD_BYTES=512
CR=$(printf '\r')

work=''
job_pids=''
nondurable=0
failure_reported=0
marker_tmp=''
reset_error=''
dl_collected=0
gz_collected=0
gzip_pid=''
source_bytes=0
data_dir=''

say() { printf 'restore: %s\n' "$*"; }

# Newlines, tabs and runs of spaces collapse so a failure stays on one line.
one_line() {
    printf '%s' "$1" | tr '\n\r\t' '   ' | sed 's/   */ /g; s/^ //; s/ $//' | cut -c1-600
}

fail() {
    detail=$(one_line "$2")
    stop_jobs
    if [ "$nondurable" = 1 ] && ! reset_durable_settings; then
        detail="$detail (and fsync/full_page_writes could not be reset: $(one_line "$reset_error"); run ALTER SYSTEM RESET fsync; ALTER SYSTEM RESET full_page_writes; SELECT pg_reload_conf())"
    fi
    [ -z "$marker_tmp" ] || rm -f "$marker_tmp"
    failure_reported=1
    printf 'restore: %s: %s — %s\n' "$1" "$detail" "$3" >&2
    exit 1
}

cleanup() {
    rc=$?
    trap - EXIT
    if [ "$rc" -ne 0 ] && [ "$failure_reported" = 0 ]; then
        stop_jobs
        if [ "$nondurable" = 1 ]; then reset_durable_settings || true; fi
        [ -z "$marker_tmp" ] || rm -f "$marker_tmp"
        printf 'restore: interrupted or unexpected failure: exit status %s — see the output above; no completion marker was written\n' "$rc" >&2
    fi
    [ -z "$work" ] || rm -rf "$work" || true
    exit "$rc"
}

stop_jobs() {
    for pid in $job_pids; do kill "$pid" 2>/dev/null || true; done
    job_pids=''
}

is_uint() {
    case $1 in '' | *[!0-9]*) return 1 ;; esac
    [ "${#1}" -le 18 ]
}

# --- inputs -----------------------------------------------------------------

check_flag() {
    case $2 in 0 | 1) ;; *) fail "invalid input" "$1=$2 is neither 0 nor 1" "set $1 to 0 or 1" ;; esac
}

lowercase() { printf '%s' "$1" | LC_ALL=C tr '[:upper:]' '[:lower:]'; }

read_inputs() {
    BACKUP_URL=${BACKUP_URL:-}
    BACKUP_FILE=${BACKUP_FILE:-}
    RESTORE_JOBS=${RESTORE_JOBS:-2}
    RESTORE_MAX_BYTES=${RESTORE_MAX_BYTES:-$DEFAULT_MAX_BYTES}
    RESTORE_MAX_SECONDS=${RESTORE_MAX_SECONDS:-$DEFAULT_MAX_SECONDS}
    RESTORE_MARKER_DIR=${RESTORE_MARKER_DIR:-}
    RESTORE_MARKER=${RESTORE_MARKER:-$DEFAULT_MARKER}
    RESTORE_WORK_DIR=${RESTORE_WORK_DIR:-${TMPDIR:-/tmp}}
    RESTORE_CA_FILE=${RESTORE_CA_FILE:-}
    RESTORE_ALLOW_HOSTS=${RESTORE_ALLOW_HOSTS:-}
    RESTORE_ALLOW_LOOPBACK=${RESTORE_ALLOW_LOOPBACK:-0}
    RESTORE_SINGLE_TRANSACTION=${RESTORE_SINGLE_TRANSACTION:-1}
    RESTORE_FSYNC_OFF=${RESTORE_FSYNC_OFF:-0}
    RESTORE_MAINTENANCE_WORK_MEM=${RESTORE_MAINTENANCE_WORK_MEM:-256MB}

    bad='invalid input'
    if [ -n "$BACKUP_URL" ] && [ -n "$BACKUP_FILE" ]; then
        fail "$bad" "both BACKUP_URL and BACKUP_FILE are set" "set exactly one of them"
    fi
    if [ -z "$BACKUP_URL" ] && [ -z "$BACKUP_FILE" ]; then
        fail "$bad" "neither BACKUP_URL nor BACKUP_FILE is set" "set BACKUP_URL to an https:// URL or BACKUP_FILE to a local file"
    fi
    if [ "$mode" = fetch ] && [ -z "$BACKUP_URL" ]; then
        fail "$bad" "fetch needs BACKUP_URL" "set BACKUP_URL; BACKUP_FILE is already local"
    fi
    if ! is_uint "$RESTORE_JOBS" || [ "$RESTORE_JOBS" -lt 1 ] || [ "$RESTORE_JOBS" -gt 64 ]; then
        fail "$bad" "RESTORE_JOBS=$RESTORE_JOBS is not a whole number from 1 to 64" "set RESTORE_JOBS to the number of parallel pg_restore jobs (about the CPU count)"
    fi
    case $RESTORE_MARKER in
        *[!A-Za-z0-9._-]* | . | ..) fail "$bad" "RESTORE_MARKER=$RESTORE_MARKER is not a plain file name" "use letters, digits, '.', '_' and '-' only, or unset it for $DEFAULT_MARKER" ;;
    esac
    if ! is_uint "$RESTORE_MAX_BYTES" || [ "$RESTORE_MAX_BYTES" -lt 1 ]; then
        fail "$bad" "RESTORE_MAX_BYTES=$RESTORE_MAX_BYTES is not a positive number of bytes" "set RESTORE_MAX_BYTES, e.g. $DEFAULT_MAX_BYTES"
    fi
    if ! is_uint "$RESTORE_MAX_SECONDS" || [ "$RESTORE_MAX_SECONDS" -lt 1 ]; then
        fail "$bad" "RESTORE_MAX_SECONDS=$RESTORE_MAX_SECONDS is not a positive number of seconds" "set RESTORE_MAX_SECONDS, e.g. $DEFAULT_MAX_SECONDS"
    fi
    case $RESTORE_MAINTENANCE_WORK_MEM in
        *[!0-9A-Za-z]* | '' | [!0-9]*) fail "$bad" "RESTORE_MAINTENANCE_WORK_MEM=$RESTORE_MAINTENANCE_WORK_MEM is not a memory size" "use a size such as 256MB or 1GB" ;;
    esac
    check_flag RESTORE_ALLOW_LOOPBACK "$RESTORE_ALLOW_LOOPBACK"
    check_flag RESTORE_SINGLE_TRANSACTION "$RESTORE_SINGLE_TRANSACTION"
    check_flag RESTORE_FSYNC_OFF "$RESTORE_FSYNC_OFF"
    if [ -n "$RESTORE_CA_FILE" ] && [ ! -r "$RESTORE_CA_FILE" ]; then
        fail "$bad" "RESTORE_CA_FILE=$RESTORE_CA_FILE is not a readable file" "point RESTORE_CA_FILE at a PEM bundle or unset it to use the system CAs"
    fi
    if [ -n "$BACKUP_FILE" ] && { [ ! -f "$BACKUP_FILE" ] || [ ! -r "$BACKUP_FILE" ]; }; then
        fail "$bad" "BACKUP_FILE=$BACKUP_FILE is not a readable file" "check the path and the volume it is on"
    fi
    if [ "$mode" = restore ]; then
        if [ -z "${PGDATABASE:-}" ]; then
            fail "$bad" "PGDATABASE is not set" "set PGDATABASE (and PGHOST, PGPORT, PGUSER, PGPASSWORD) to the database to restore into"
        fi
        if [ -z "$RESTORE_MARKER_DIR" ] || [ ! -d "$RESTORE_MARKER_DIR" ] || [ ! -w "$RESTORE_MARKER_DIR" ]; then
            fail "$bad" "RESTORE_MARKER_DIR='$RESTORE_MARKER_DIR' is not a writable directory" "set RESTORE_MARKER_DIR to the directory the readiness check looks in"
        fi
    fi
    if [ ! -d "$RESTORE_WORK_DIR" ] || [ ! -w "$RESTORE_WORK_DIR" ]; then
        fail "$bad" "RESTORE_WORK_DIR=$RESTORE_WORK_DIR is not a writable directory" "set RESTORE_WORK_DIR (or TMPDIR) to a writable directory with room for a custom-format dump"
    fi
}

require_tools() {
    tools='cat cp cut date dd grep gzip head mkfifo mktemp mv od rm sed tee tr wc'
    [ -z "$BACKUP_URL" ] || tools="$tools curl getent"
    [ "$mode" != restore ] || tools="$tools psql pg_restore vacuumdb"
    [ "$RESTORE_FSYNC_OFF" = 0 ] || tools="$tools sleep sync"
    for tool in $tools; do
        command -v "$tool" >/dev/null 2>&1 || fail "missing tool" "$tool is not on PATH" "run this script in an image that has $tool"
    done
}

# --- BACKUP_URL checks --------------------------------------------------------

refuse_url() {
    fail "refused BACKUP_URL" "$1" "${2:-give an https:// URL of a public host (an object store or file server)}"
}

# Splits BACKUP_URL into url_host, url_port and url_is_ip; refuses anything a
# URL parser other than ours (curl's) could read differently.
parse_url() {
    case $BACKUP_URL in
        https://*) ;;
        *://*) refuse_url "scheme ${BACKUP_URL%%://*}:// is not allowed, only https://" ;;
        *) refuse_url "not an https:// URL" ;;
    esac
    # RFC 3986 characters only: no spaces, backslashes, quotes, newlines or non-ASCII.
    case $BACKUP_URL in
        *[!-A-Za-z0-9._~:/?#@!\$\&\'\(\)\*+,\;=%\[\]]*)
            refuse_url "it contains characters that are not allowed in a URL" "percent-encode spaces and other special characters"
            ;;
    esac
    rest=${BACKUP_URL#https://}
    authority=${rest%%[/?#]*}
    # Messages show the URL without its query: a presigned URL's signature is a secret.
    safe_url=${rest#"$authority"}
    safe_url="https://$authority${safe_url%%[?#]*}"
    case $authority in
        *@*) refuse_url "user name or password in the URL" "put credentials in a presigned query string, not before the host" ;;
        '') refuse_url "no host in the URL" ;;
    esac
    url_is_ip=0
    case $authority in
        \[*)
            url_host=${authority#\[}
            url_host=${url_host%%\]*}
            port_part=${authority#*\]}
            url_is_ip=6
            ;;
        *:*:*) refuse_url "malformed host and port '$authority'" ;;
        *)
            url_host=${authority%%:*}
            port_part=${authority#"$url_host"}
            ;;
    esac
    case $port_part in
        '') url_port=443 ;;
        :*)
            url_port=${port_part#:}
            if ! is_uint "$url_port" || [ "$url_port" -lt 1 ] || [ "$url_port" -gt 65535 ]; then
                refuse_url "port '$url_port' is not a number from 1 to 65535"
            fi
            ;;
        *) refuse_url "malformed host and port '$authority'" ;;
    esac
    case $url_host in *[A-Z]*) url_host=$(lowercase "$url_host") ;; esac
    if [ "$url_is_ip" = 6 ]; then
        ipv6_groups "$url_host" || refuse_url "'$url_host' is not an IPv6 address"
        return 0
    fi
    case $url_host in
        '' | .* | *. | *..*) refuse_url "host '$url_host' is not a valid DNS name" ;;
        *[!a-z0-9.-]*) refuse_url "host '$url_host' is not a valid DNS name" "write international names in their xn-- form" ;;
    esac
    # A name made only of numbers is an IPv4 literal. inet_aton also reads
    # 2130706433, 0177.0.0.1 and 0x7f000001 as 127.0.0.1, so only the plain
    # dotted-decimal form is accepted and checked.
    numeric=1
    old_ifs=$IFS
    IFS=.
    for label in $url_host; do
        case $label in
            *[!0-9]*) case $label in 0[xX]*) ;; *) numeric=0 ;; esac ;;
        esac
    done
    IFS=$old_ifs
    if [ "$numeric" = 1 ]; then
        ipv4_octets "$url_host" || refuse_url "'$url_host' is an IP address in a non-canonical (decimal, octal or hex) form" "write the address as four decimal numbers, e.g. 203.0.113.7, or use the host name"
        url_is_ip=4
    fi
}

check_allowed_host() {
    [ -n "$RESTORE_ALLOW_HOSTS" ] || return 0
    for allowed in $(lowercase "$RESTORE_ALLOW_HOSTS" | tr ',' ' '); do
        case $allowed in
            \*.* | .*)
                suffix=.${allowed#*.}
                case $url_host in *"$suffix") return 0 ;; esac
                ;;
            *) [ "$url_host" != "$allowed" ] || return 0 ;;
        esac
    done
    refuse_url "host $url_host is not in RESTORE_ALLOW_HOSTS ($RESTORE_ALLOW_HOSTS)" "use a URL on an allowed host or add the host to the allow-list"
}

# Sets o1..o4 from a canonical dotted quad; fails on any other form.
ipv4_octets() {
    old_ifs=$IFS
    IFS=.
    # shellcheck disable=SC2086 # splitting on dots is the point
    set -- $1
    IFS=$old_ifs
    [ "$#" -eq 4 ] || return 1
    for octet in "$@"; do
        case $octet in '' | *[!0-9]* | 0?*) return 1 ;; esac
        [ "${#octet}" -le 3 ] && [ "$octet" -le 255 ] || return 1
    done
    o1=$1 o2=$2 o3=$3 o4=$4
}

# Sets g1..g8 (decimal values) from an IPv6 address; fails if it is not one.
ipv6_groups() {
    a=$1
    case $a in *%*) return 1 ;; esac
    case $a in
        *.*)
            ipv4_octets "${a##*:}" || return 1
            a="${a%:*}:$(printf '%x:%x' $((o1 * 256 + o2)) $((o3 * 256 + o4)))"
            ;;
    esac
    case $a in *::*::* | *:::* | :[!:]* | *[!:]:) return 1 ;; esac
    case $a in
        *::*) left=${a%%::*} right=${a#*::} ;;
        *) left=$a right='' ;;
    esac
    old_ifs=$IFS
    IFS=:
    # shellcheck disable=SC2086 # splitting on colons is the point
    set -- $left
    n_left=$#
    # shellcheck disable=SC2086
    set -- $right
    n_right=$#
    IFS=$old_ifs
    case $a in
        *::*) [ $((n_left + n_right)) -le 7 ] || return 1 ;;
        *) [ "$n_left" -eq 8 ] || return 1 ;;
    esac
    list=''
    IFS=:
    for g in $left; do list="$list $g"; done
    i=$((8 - n_left - n_right))
    while [ "$i" -gt 0 ]; do list="$list 0" i=$((i - 1)); done
    for g in $right; do list="$list $g"; done
    IFS=$old_ifs
    set --
    for g in $list; do
        case $g in '' | *[!0-9a-f]*) return 1 ;; esac
        [ "${#g}" -le 4 ] || return 1
        set -- "$@" $((0x$g))
    done
    [ "$#" -eq 8 ] || return 1
    g1=$1 g2=$2 g3=$3 g4=$4 g5=$5 g6=$6 g7=$7 g8=$8
}

# Sets addr_refusal to why an IPv4 address may not be fetched from (empty
# when it is public) and addr_loopback=1 for 127/8. The ranges are those
# ipaddr.js (used by the API) does not call unicast.
ipv4_refusal() {
    addr_refusal='' addr_loopback=0
    ipv4_octets "$1" || { addr_refusal="'$1' is not an IPv4 address"; return 0; }
    if [ "$o1" -eq 127 ]; then addr_refusal='loopback (127.0.0.0/8)' addr_loopback=1
    elif [ "$o1" -eq 0 ]; then addr_refusal='"this network" (0.0.0.0/8)'
    elif [ "$o1" -eq 10 ]; then addr_refusal='private (10.0.0.0/8)'
    elif [ "$o1" -eq 172 ] && [ "$o2" -ge 16 ] && [ "$o2" -le 31 ]; then addr_refusal='private (172.16.0.0/12)'
    elif [ "$o1" -eq 192 ] && [ "$o2" -eq 168 ]; then addr_refusal='private (192.168.0.0/16)'
    elif [ "$o1" -eq 100 ] && [ "$o2" -ge 64 ] && [ "$o2" -le 127 ]; then addr_refusal='shared carrier-grade NAT (100.64.0.0/10)'
    elif [ "$1" = 169.254.169.254 ]; then addr_refusal='the cloud metadata service (169.254.169.254)'
    elif [ "$o1" -eq 169 ] && [ "$o2" -eq 254 ]; then addr_refusal='link-local (169.254.0.0/16)'
    elif [ "$o1" -ge 224 ] && [ "$o1" -le 239 ]; then addr_refusal='multicast (224.0.0.0/4)'
    elif [ "$o1" -ge 240 ]; then addr_refusal='reserved or broadcast (240.0.0.0/4)'
    else
        case $o1.$o2.$o3 in
            192.0.0 | 192.0.2 | 192.88.99 | 198.51.100 | 203.0.113 | 198.18.* | 198.19.* | 192.175.48 | 192.31.196 | 192.52.193)
                addr_refusal="special-purpose ($o1.$o2.$o3.0/24 or 198.18.0.0/15: documentation, benchmarking, relay or AS112)"
                ;;
        esac
    fi
}

ipv6_refusal() {
    addr_refusal='' addr_loopback=0
    ipv6_groups "$1" || { addr_refusal="'$1' is not an IPv6 address"; return 0; }
    if [ $((g1 + g2 + g3 + g4 + g5 + g6 + g7)) -eq 0 ] && [ "$g8" -le 1 ]; then
        if [ "$g8" -eq 1 ]; then addr_refusal='loopback (::1)' addr_loopback=1; else addr_refusal='unspecified (::)'; fi
    elif [ "$g1.$g2.$g3.$g4.$g5.$g6.$g7.$g8" = 64768.3778.0.0.0.0.0.596 ]; then
        addr_refusal='the cloud metadata service (fd00:ec2::254)'
    elif [ $((g1 & 0xe000)) -ne 8192 ]; then
        # Outside 2000::/3: link-local, unique-local (fc00::/7), multicast,
        # IPv4-mapped/-compatible, NAT64, discard and unassigned space.
        addr_refusal="not global unicast (outside 2000::/3: loopback, link-local fe80::/10, unique-local fc00::/7, IPv4-mapped, NAT64 or multicast)"
    elif [ "$g1" -eq 8193 ] && { [ "$g2" -lt 512 ] || [ "$g2" -eq 3512 ]; }; then
        addr_refusal='special-purpose (2001::/23 or documentation 2001:db8::/32)'
    elif [ "$g1" -eq 8194 ]; then
        addr_refusal='6to4 (2002::/16)'
    elif [ "$g1" -eq 16383 ] && [ "$g2" -lt 4096 ]; then
        addr_refusal='documentation (3fff::/20)'
    elif [ "$g1.$g2.$g3" = 9760.79.32768 ]; then
        addr_refusal='AS112 (2620:4f:8000::/48)'
    fi
}

address_refusal() {
    case $1 in
        *:*[A-F]*) ipv6_refusal "$(lowercase "$1")" ;;
        *:*) ipv6_refusal "$1" ;;
        *) ipv4_refusal "$1" ;;
    esac
    if [ "$addr_loopback" = 1 ] && [ "$RESTORE_ALLOW_LOOPBACK" = 1 ]; then addr_refusal=''; fi
}

# Resolves the host once, refuses it if ANY address is not public (a name
# with one public and one private record is not trusted), and pins curl to
# the first IPv4 address (else the first IPv6) so a second DNS answer cannot
# point the download elsewhere.
resolve_host() {
    if [ "$url_is_ip" != 0 ]; then
        addresses=$url_host
    else
        # glibc's getent has ahosts (every address of every family); musl's
        # (Alpine) only hosts.
        answer=$(getent ahosts "$url_host" 2>/dev/null) || answer=$(getent hosts "$url_host" 2>/dev/null) ||
            refuse_url "host $url_host does not resolve" "check the host name and the DNS the script's container uses"
        addresses=''
        for address in $(printf '%s\n' "$answer" | cut -d' ' -f1); do
            case " $addresses " in *" $address "*) ;; *) addresses="$addresses $address" ;; esac
        done
    fi
    pinned='' pinned6=''
    for address in $addresses; do
        address_refusal "$address"
        if [ -n "$addr_refusal" ]; then
            hint='give a URL on a public host'
            [ "$addr_loopback" = 0 ] || hint="$hint (tests set RESTORE_ALLOW_LOOPBACK=1, which production never does)"
            if [ "$url_is_ip" = 0 ]; then
                refuse_url "host $url_host resolves to $address, which is $addr_refusal" "$hint"
            fi
            refuse_url "address $address is $addr_refusal" "$hint"
        fi
        case $address in
            *:*) [ -n "$pinned6" ] || pinned6=$address ;;
            *) [ -n "$pinned" ] || pinned=$address ;;
        esac
    done
    [ -n "$pinned" ] || pinned=$pinned6
    [ -n "$pinned" ] || refuse_url "host $url_host has no address"
}

check_url() {
    parse_url
    check_allowed_host
    resolve_host
}

# --- reading the source ---------------------------------------------------------

make_work_dir() {
    work=$(mktemp -d "$RESTORE_WORK_DIR/dbaas-restore.XXXXXX") || fail "cannot create a work directory" "mktemp failed in $RESTORE_WORK_DIR" "check RESTORE_WORK_DIR is writable and has free space"
}

# The download runs in the background into a named pipe; curl's status, the
# response headers and the byte count (head stops at RESTORE_MAX_BYTES + 1,
# which also catches chunked responses that --max-filesize cannot) land in
# files the main shell reads after `wait`.
start_download() {
    mkfifo "$work/download" "$work/count.pipe"
    set -- -q --globoff --silent --show-error --fail --no-location --proto =https --proto-redir =https \
        --max-redirs 0 --noproxy '*' --connect-timeout 30 --max-time "$RESTORE_MAX_SECONDS" \
        --max-filesize "$RESTORE_MAX_BYTES" --dump-header "$work/headers"
    [ -z "$RESTORE_CA_FILE" ] || set -- "$@" --cacert "$RESTORE_CA_FILE"
    if [ "$url_is_ip" = 0 ]; then
        case $pinned in
            *:*) set -- "$@" --resolve "$url_host:$url_port:[$pinned]" ;;
            *) set -- "$@" --resolve "$url_host:$url_port:$pinned" ;;
        esac
    fi
    wc -c <"$work/count.pipe" >"$work/count" &
    job_pids="$job_pids $!"
    count_pid=$!
    (
        { st=0 && curl "$@" --url "$BACKUP_URL" 2>"$work/curl.err" || st=$?; echo "$st" >"$work/curl.status"; } |
            head -c "$((RESTORE_MAX_BYTES + 1))" | tee "$work/count.pipe"
    ) >"$work/download" &
    job_pids="$job_pids $!"
    download_pid=$!
    say "downloading $safe_url (pinned to $pinned)"
}

# Sets code and location from the last response in the saved headers.
http_status() {
    code='' location=''
    [ -f "$work/headers" ] || return 0
    while IFS= read -r line; do
        line=${line%"$CR"}
        case $line in
            HTTP/*) code=${line#* } && code=${code%% *} && location='' ;;
            [Ll]ocation:*) location=${line#*:} && location=${location# } ;;
        esac
    done <"$work/headers"
}

# Waits for the download once and records its results. Closing fd 3 first
# lets a download whose reader stopped end on a write error instead of
# blocking on a full pipe.
collect_download() {
    [ -n "$BACKUP_URL" ] && [ "$dl_collected" = 0 ] || return 0
    exec 3<&-
    wait "$download_pid" || true
    wait "$count_pid" || true
    dl_collected=1
    read -r dl_bytes <"$work/count" || dl_bytes=''
    read -r dl_curl <"$work/curl.status" || dl_curl=''
    source_bytes=$dl_bytes
}

fail_if_redirected() {
    http_status
    case $code in
        3??)
            fail "download failed" "HTTP $code redirect from $safe_url to ${location%%[?#]*}; redirects are not followed because their target is not checked" "set BACKUP_URL to the final URL"
            ;;
    esac
}

# Fails with the download's own error when it had one: the size cap, an HTTP
# status, a redirect, a timeout, a network or TLS error. curl's exit 23 (write
# error) only means a later stage stopped reading, which that stage reports;
# with "final" every stage has read to the end, so it counts as a failure.
fail_if_download_failed() {
    [ -n "$BACKUP_URL" ] || return 0
    collect_download
    if { is_uint "$dl_bytes" && [ "$dl_bytes" -gt "$RESTORE_MAX_BYTES" ]; } || [ "$dl_curl" = 63 ]; then
        fail "download too large" "$safe_url is larger than RESTORE_MAX_BYTES=$RESTORE_MAX_BYTES bytes" "raise RESTORE_MAX_BYTES or use a smaller backup"
    fi
    fail_if_redirected
    curl_err=$(cat "$work/curl.err" 2>/dev/null) || curl_err=''
    case $dl_curl in
        0) ;;
        22) fail "download failed" "HTTP $code from $safe_url" "check that BACKUP_URL points to an existing object and that a presigned URL has not expired" ;;
        28) fail "download timed out" "$safe_url did not finish within RESTORE_MAX_SECONDS=$RESTORE_MAX_SECONDS seconds" "check the network path to the host or raise RESTORE_MAX_SECONDS" ;;
        23) [ "${1:-}" != final ] || fail "download failed" "the download was cut short: $curl_err" "check the free space in RESTORE_WORK_DIR" ;;
        35 | 51 | 53 | 54 | 58 | 59 | 60 | 64 | 66 | 77 | 80 | 82 | 83 | 90 | 91)
            fail "download failed" "TLS error from $safe_url: $curl_err" "check the server's certificate (RESTORE_CA_FILE for a private CA)"
            ;;
        '') fail "download failed" "curl did not report a status for $safe_url" "check that curl runs in this image" ;;
        *) fail "download failed" "curl exit $dl_curl from $safe_url: $curl_err" "check the host is reachable on port $url_port over https and the backup is served completely" ;;
    esac
}

open_source() {
    if [ -n "$BACKUP_URL" ]; then
        exec 3<"$work/download"
    else
        exec 3<"$BACKUP_FILE"
        source_bytes=$(wc -c <"$BACKUP_FILE" | tr -d ' ')
        say "reading $BACKUP_FILE ($source_bytes bytes)"
    fi
}

# Reads the first bytes one at a time, so nothing past them is consumed.
read_head() {
    dd bs=1 count="$HEAD_BYTES" of="$2" 2>/dev/null <&"$1" || fail "cannot read the backup" "dd failed" "check RESTORE_WORK_DIR"
}

# Sets detected to gzip, custom, plain, or what the bytes are instead. One
# od call; the rest matches " xx" byte pairs, so no byte is read twice.
detect_format() {
    bytes=$(od -An -tx1 -v "$1" | tr -s ' \n' '  ')
    case $bytes in
        '' | ' ') detected='empty: the backup has no content' ;;
        ' 1f 8b'*) detected=gzip ;;
        ' 50 47 44 4d 50'*) detected=custom ;;
        ' 50 4b 03 04'*) detected='a zip archive' ;;
        ' 42 5a 68'*) detected='bzip2-compressed data' ;;
        ' fd 37 7a 58 5a 00'*) detected='xz-compressed data' ;;
        ' 28 b5 2f fd'*) detected='zstd-compressed data' ;;
        *' 0'[0-8]* | *' 0'[bcef]* | *' 1'[0-9a-f]* | *' 7f'*)
            # Control bytes: not SQL text. A tar header has "ustar" at 257.
            if [ "$(printf '%s' "$bytes" | cut -c772-786)" = ' 75 73 74 61 72' ]; then
                detected='a tar archive (pg_dump -Ft, or files packed with tar)'
            else
                detected='binary data'
            fi
            ;;
        *)
            rest=$bytes
            while :; do
                case $rest in ' 20'* | ' 09'* | ' 0a'* | ' 0d'*) rest=${rest#???} ;; *) break ;; esac
            done
            case $rest in
                ' 3c'*) detected='an HTML or XML page, maybe an error or login page' ;;
                ' 7b'* | ' 5b'*) detected='a JSON document, maybe an error response' ;;
                *) detected=plain ;;
            esac
            ;;
    esac
}

describe_head() {
    text=$(head -c 40 "$1" | LC_ALL=C tr -c ' -~' '.')
    printf 'starts with "%s" (hex %s)' "$text" "$(od -An -tx1 -N12 "$1" | tr -s ' \n' '  ' | sed 's/^ //; s/ $//')"
}

# gzip runs as its own job between two pipes, so its status is collected
# apart from the download's and psql's.
start_gunzip() {
    mkfifo "$work/gz.in" "$work/gz.out"
    { cat "$work/head.raw" && cat <&3; } >"$work/gz.in" 2>/dev/null &
    job_pids="$job_pids $!"
    gz_feed_pid=$!
    gzip -dc <"$work/gz.in" >"$work/gz.out" 2>"$work/gzip.err" 3<&- &
    job_pids="$job_pids $!"
    gzip_pid=$!
    exec 4<"$work/gz.out"
}

collect_gunzip() {
    [ -n "$gzip_pid" ] && [ "$gz_collected" = 0 ] || return 0
    exec 4<&-
    wait "$gz_feed_pid" || true
    gz_status=0
    wait "$gzip_pid" || gz_status=$?
    gz_collected=1
}

fail_if_gunzip_failed() {
    [ -n "$gzip_pid" ] || return 0
    collect_gunzip
    [ "$gz_status" != 0 ] || return 0
    # Killed by SIGPIPE (141) or told "Broken pipe": a later stage stopped reading.
    if [ "${1:-}" != final ] && { [ "$gz_status" = 141 ] || grep -q 'Broken pipe' "$work/gzip.err"; }; then
        return 0
    fi
    fail "gzip data is corrupt or truncated" "$(cat "$work/gzip.err")" "check the backup file is complete (gzip -t) and was uploaded completely"
}

# The stages before the current one, waited for in pipeline order (gzip reads
# the download, so it is collected first) and judged download-first, since a
# cut download is also what makes gzip and psql fail.
fail_upstream() {
    collect_gunzip
    collect_download
    fail_if_download_failed "${1:-}"
    fail_if_gunzip_failed "${1:-}"
}

fail_format() {
    # A short head means the stream ended, so the stages before it are done
    # and their error (an HTTP 404 gives no body) is the real one.
    if [ "$(wc -c <"$1")" -lt "$HEAD_BYTES" ]; then fail_upstream; elif [ -n "$BACKUP_URL" ]; then fail_if_redirected; fi
    fail "format not recognised" "$2, $(describe_head "$1")" "BACKUP_URL/BACKUP_FILE must be a plain SQL dump, a gzip-compressed SQL dump or a pg_dump custom-format (-Fc) file"
}

# --- Postgres ---------------------------------------------------------------------

psql_q() { psql -X -q -w -v ON_ERROR_STOP=1 "$@"; }

first_error() {
    grep -m 1 -E '(ERROR|FATAL|PANIC|error):' "$1" || head -n 1 "$1"
}

check_database() {
    db_state=$(psql_q -tA -c "SELECT rolsuper::text || ' ' || current_setting('fsync') FROM pg_roles WHERE rolname = current_user" 2>&1) ||
        fail "cannot connect to PostgreSQL" "$db_state" "check PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and that the server accepts connections"
    # Session settings only: they end with each connection, so nothing
    # durable is left behind. Each pg_restore worker inherits PGOPTIONS.
    PGOPTIONS="${PGOPTIONS:-} -c synchronous_commit=off -c maintenance_work_mem=$RESTORE_MAINTENANCE_WORK_MEM"
    export PGOPTIONS
}

# RESTORE_FSYNC_OFF=1: fsync and full_page_writes off server-wide for the load.
# Only for a server that exists for this restore: a crash meanwhile can
# corrupt it, which is acceptable only because no marker is written then.
set_nondurable_settings() {
    [ "$RESTORE_FSYNC_OFF" = 1 ] || return 0
    case ${PGHOST:-} in
        '' | /* | localhost | 127.0.0.1 | ::1) ;;
        *) fail "RESTORE_FSYNC_OFF refused" "PGHOST=$PGHOST is not this host, so the script cannot sync its disks afterwards" "run the script beside the server (socket, localhost) or unset RESTORE_FSYNC_OFF" ;;
    esac
    case $db_state in
        'true on') ;;
        'true off') say "fsync is already off on this server; leaving it as it is"; return 0 ;;
        *) fail "RESTORE_FSYNC_OFF refused" "PGUSER is not a superuser (ALTER SYSTEM needs one)" "unset RESTORE_FSYNC_OFF or run as a superuser" ;;
    esac
    nondurable=1
    # shellcheck disable=SC2016 # $$ is an SQL dollar quote
    out=$(psql_q -tA -c 'SHOW data_directory' -c 'ALTER SYSTEM SET fsync = off' -c 'ALTER SYSTEM SET full_page_writes = off' \
        -c 'DO $$BEGIN PERFORM pg_reload_conf(); END$$' 2>&1) || fail "RESTORE_FSYNC_OFF failed" "$out" "check the server log"
    data_dir=$out
    say "fsync and full_page_writes are off until the load ends"
}

# Resets what set_nondurable_settings changed, waits until new sessions see
# fsync on, then CHECKPOINT and sync: writes made while fsync was off are only
# durable once the kernel has flushed them.
reset_durable_settings() {
    [ "$nondurable" = 1 ] || return 0
    # shellcheck disable=SC2016 # $$ is an SQL dollar quote
    reset_error=$(psql_q -c 'ALTER SYSTEM RESET fsync' -c 'ALTER SYSTEM RESET full_page_writes' -c 'DO $$BEGIN PERFORM pg_reload_conf(); END$$' 2>&1) || return 1
    tries=0
    until [ "$(psql_q -tA -c 'SHOW fsync' 2>/dev/null)" = on ]; do
        tries=$((tries + 1))
        [ "$tries" -lt 20 ] || { reset_error='fsync still reads off 10 seconds after pg_reload_conf()'; return 1; }
        sleep 0.5 2>/dev/null || sleep 1
    done
    reset_error=$(psql_q -c CHECKPOINT 2>&1) || return 1
    # syncfs of the data directory's filesystem when it is visible here (the
    # same container or a shared volume), else every filesystem.
    sync -f "$data_dir" 2>/dev/null || sync
    nondurable=0
    reset_error=''
}

# Plain SQL streams into psql without touching the disk. With
# RESTORE_SINGLE_TRANSACTION=1 (the default) the script sends BEGIN first and
# COMMIT only after every stage before psql succeeded, so a cut download or a
# truncated gzip rolls back instead of committing half a dump.
load_plain() {
    fd=$1
    mkfifo "$work/sql"
    set -- -f - -c ANALYZE
    if [ "$RESTORE_SINGLE_TRANSACTION" = 1 ]; then
        # The DO block fails if the dump swallowed the COMMIT (an unterminated
        # COPY reads it as data): in a fresh transaction now() equals
        # statement_timestamp(), in one left open it does not.
        # shellcheck disable=SC2016 # $$ and $m$ are SQL dollar quotes
        set -- -c BEGIN -f - -c 'DO $$BEGIN IF now() <> statement_timestamp() THEN RAISE EXCEPTION $m$the SQL ended inside an unterminated COPY or transaction, so nothing was committed$m$; END IF; END$$' -c ANALYZE
    fi
    say "psql, plain SQL (RESTORE_SINGLE_TRANSACTION=$RESTORE_SINGLE_TRANSACTION), then ANALYZE"
    psql_q "$@" <"$work/sql" >"$work/psql.out" 2>"$work/psql.err" 3<&- 4<&- &
    job_pids="$job_pids $!"
    psql_pid=$!
    exec 5>"$work/sql"
    copy=0
    { cat "$work/head.sql" && cat <&"$fd"; } >&5 2>/dev/null || copy=$?
    if [ "$copy" = 0 ]; then
        fail_upstream final
        if [ "$RESTORE_SINGLE_TRANSACTION" = 1 ]; then
            (printf '\nCOMMIT;\n') >&5 2>/dev/null || true
        fi
    else
        fail_upstream
    fi
    exec 5>&-
    st=0
    wait "$psql_pid" || st=$?
    if [ "$st" != 0 ]; then
        err=$(first_error "$work/psql.err")
        line=$(printf '%s' "$err" | sed -n 's/^psql:<stdin>:\([0-9][0-9]*\): .*/\1/p')
        msg=$(printf '%s' "$err" | sed 's/^psql:<stdin>:[0-9][0-9]*: //')
        hint='fix the dump (psql -f shows the context); nothing was committed'
        [ "$RESTORE_SINGLE_TRANSACTION" = 1 ] || hint='fix the dump; the database holds a partial restore, recreate it before retrying'
        case $msg in
            *'cannot run inside a transaction block'* | *'cannot be executed from a function'*)
                hint='this looks like a pg_dumpall or pg_dump --create dump: give a dump of one database, or set RESTORE_SINGLE_TRANSACTION=0'
                ;;
        esac
        if [ -n "$line" ]; then fail "SQL error at line $line" "$msg" "$hint"; fi
        fail "SQL error" "$msg" "$hint"
    fi
    [ "$copy" = 0 ] || fail "cannot stream the backup into psql" "the copy ended with status $copy while psql succeeded" "check the server log"
}

# pg_restore -j needs a seekable file, so a downloaded or decompressed
# custom-format dump is stored in the work directory first.
save_custom() {
    fd=$1
    dump=$work/backup.dump
    if { cat "$work/head.sql" && cat <&"$fd"; } >"$dump" 2>"$work/save.err"; then
        fail_upstream final
    else
        fail_upstream
        fail "cannot store the custom-format dump" "$(cat "$work/save.err")" "check the free space in RESTORE_WORK_DIR=$RESTORE_WORK_DIR (parallel pg_restore needs the dump as a file)"
    fi
}

load_custom() {
    say "pg_restore --jobs=$RESTORE_JOBS"
    pg_restore -w --jobs="$RESTORE_JOBS" --no-owner --no-privileges --no-tablespaces --no-subscriptions \
        --exit-on-error --dbname="$PGDATABASE" "$1" >"$work/pg_restore.out" 2>"$work/pg_restore.err" ||
        fail "pg_restore failed" "$(first_error "$work/pg_restore.err")" "fix the dump or the target database (pg_restore must be at least as new as the pg_dump that wrote the dump)"
}

# ANALYZE of a custom-format restore, table by table on RESTORE_JOBS
# connections (vacuumdb ships with every PostgreSQL client).
analyze() {
    out=$(vacuumdb --analyze-only --quiet --jobs="$RESTORE_JOBS" --dbname="$PGDATABASE" 2>&1) || fail "ANALYZE failed" "$out" "check the server log"
}

marker_path() { printf '%s/%s' "$RESTORE_MARKER_DIR" "$RESTORE_MARKER"; }

write_marker() {
    marker=$(marker_path)
    marker_tmp="$marker.tmp.$$"
    if ! {
        printf 'completed_at=%s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
        printf 'format=%s\n' "$format"
        printf 'source_bytes=%s\n' "$source_bytes"
        printf 'seconds=%s\n' "$(($(date +%s) - started))"
    } >"$marker_tmp" || ! mv "$marker_tmp" "$marker"; then
        fail "cannot write the completion marker" "$marker" "check RESTORE_MARKER_DIR is writable"
    fi
    marker_tmp=''
}

# --- modes ------------------------------------------------------------------------

# Opens the source, detects its format (looking inside gzip) and sets format
# and src, the fd the SQL or custom-format stream continues on.
detect_source() {
    read_head 3 "$work/head.raw"
    detect_format "$work/head.raw"
    outer=$detected
    case $outer in
        gzip)
            start_gunzip
            read_head 4 "$work/head.sql"
            detect_format "$work/head.sql"
            inner=$detected
            case $inner in
                plain | custom) format=gzip+$inner src=4 ;;
                *) fail_format "$work/head.sql" "gzip-compressed $inner" ;;
            esac
            ;;
        plain | custom) format=$outer src=3 && cp "$work/head.raw" "$work/head.sql" ;;
        *) fail_format "$work/head.raw" "$outer" ;;
    esac
    say "format: $format"
}

restore() {
    marker=$(marker_path)
    if [ -f "$marker" ]; then
        say "already restored ($(tr '\n' ' ' <"$marker")); nothing to do"
        return 0
    fi
    [ -z "$BACKUP_URL" ] || check_url
    check_database
    make_work_dir
    [ -z "$BACKUP_URL" ] || start_download
    open_source
    detect_source
    set_nondurable_settings
    case $format in
        *plain) load_plain "$src" ;;
        custom)
            if [ -n "$BACKUP_FILE" ]; then
                exec 3<&-
                load_custom "$BACKUP_FILE"
            else
                save_custom 3
                load_custom "$work/backup.dump"
            fi
            ;;
        gzip+custom)
            save_custom 4
            load_custom "$work/backup.dump"
            ;;
    esac
    reset_durable_settings || fail "cannot restore the durable settings" "$reset_error" "run ALTER SYSTEM RESET fsync; ALTER SYSTEM RESET full_page_writes; SELECT pg_reload_conf() as a superuser"
    # The plain load ran ANALYZE in its own session already.
    case $format in *custom) analyze ;; esac
    write_marker
    say "done: $format, $source_bytes bytes in $(($(date +%s) - started)) s; marker $marker"
}

# Stores the download as it came (still compressed), after the same checks,
# for a restore from BACKUP_FILE in another container.
fetch() {
    out_file=$1
    check_url
    make_work_dir
    start_download
    open_source
    read_head 3 "$work/head.raw"
    detect_format "$work/head.raw"
    outer=$detected
    case $outer in gzip | plain | custom) ;; *) fail_format "$work/head.raw" "$outer" ;; esac
    if { cat "$work/head.raw" && cat <&3; } >"$out_file.part" 2>"$work/save.err"; then
        fail_upstream final
    else
        rm -f "$out_file.part"
        fail_upstream
        fail "cannot store the download" "$(cat "$work/save.err")" "check the free space where $out_file is"
    fi
    if [ "$outer" = gzip ] && ! gzip -t "$out_file.part" 2>"$work/gzip.err"; then
        rm -f "$out_file.part"
        fail "gzip data is corrupt or truncated" "$(cat "$work/gzip.err")" "check the backup file is complete (gzip -t) and was uploaded completely"
    fi
    mv "$out_file.part" "$out_file" || fail "cannot store the download" "mv to $out_file failed" "check the directory of $out_file is writable"
    say "fetched $safe_url into $out_file ($outer, $source_bytes bytes)"
}

main() {
    mode=${1:-restore}
    case $mode in
        restore | check) [ "$#" -le 1 ] || fail "usage" "unexpected argument $2" "run: restore.sh [check | fetch FILE]" ;;
        fetch) if [ "$#" -ne 2 ] || [ -z "$2" ]; then fail "usage" "fetch needs exactly one output file" "run: restore.sh fetch FILE"; fi ;;
        *) fail "usage" "unknown mode $mode" "run: restore.sh [check | fetch FILE]" ;;
    esac
    trap cleanup EXIT
    trap 'exit 143' TERM
    trap 'exit 130' INT
    trap 'exit 129' HUP
    started=$(date +%s)
    read_inputs
    require_tools
    case $mode in
        check)
            [ -n "$BACKUP_URL" ] || fail "invalid input" "check needs BACKUP_URL" "set BACKUP_URL"
            check_url
            say "ok: $safe_url -> $pinned port $url_port"
            ;;
        fetch) fetch "$2" ;;
        restore) restore ;;
    esac
}

main "$@"
