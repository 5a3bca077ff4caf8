#!/bin/sh
# Downloads BACKUP_URL (https, public hosts only) into a local file for
# restore.sh: the host is resolved once, every address checked against the
# blocked-egress table below, and curl connects to exactly the checked address
# (--resolve), so a second DNS answer cannot swap it. No redirects, size and
# time capped, format checked, written via FILE.part. Every failure ends with
# one line on stderr and a non-zero exit. Inputs: docs/ondemand.md.
#   fetch.sh FILE | fetch.sh check (validate only; print the address it would connect to)
#   | fetch.sh head (a HEAD request only: print the backup's validators for the cache)
# After a download or a HEAD it prints the backup's identity for the restored-backup
# cache (contracts/cache.ts parseFetchReport): "fetch: cache-report KEY=VALUE" lines.

# bash and busybox ash have pipefail; dash (Debian's sh) does not, so it hands over to bash.
# shellcheck disable=SC3040
if ! (set -o pipefail) 2>/dev/null; then
    if command -v bash >/dev/null 2>&1; then exec bash "$0" "$@"; fi
    printf 'restore: unsupported shell: this sh has no pipefail — run the script with bash or busybox sh\n' >&2
    exit 1
fi
# shellcheck disable=SC3040
set -euo pipefail

# BEGIN blocked egress: rendered from contracts/egress.ts by ondemand/restore/index.ts; do not edit by hand.
BLOCKED_EGRESS='
0.0.0.0/8 - "this network" (0.0.0.0/8)
10.0.0.0/8 - private (10.0.0.0/8)
100.64.0.0/10 - shared carrier-grade NAT (100.64.0.0/10)
127.0.0.0/8 loopback loopback (127.0.0.0/8)
169.254.169.254/32 - the cloud metadata service (169.254.169.254)
169.254.0.0/16 - link-local (169.254.0.0/16)
172.16.0.0/12 - private (172.16.0.0/12)
192.0.0.0/24 - IETF protocol assignments (192.0.0.0/24)
192.0.2.0/24 - documentation (192.0.2.0/24)
192.31.196.0/24 - AS112 (192.31.196.0/24)
192.52.193.0/24 - AMT relay (192.52.193.0/24)
192.88.99.0/24 - 6to4 relay anycast (192.88.99.0/24)
192.168.0.0/16 - private (192.168.0.0/16)
192.175.48.0/24 - AS112 (192.175.48.0/24)
198.18.0.0/15 - benchmarking (198.18.0.0/15)
198.51.100.0/24 - documentation (198.51.100.0/24)
203.0.113.0/24 - documentation (203.0.113.0/24)
224.0.0.0/4 - multicast (224.0.0.0/4)
240.0.0.0/4 - reserved or broadcast (240.0.0.0/4)
::/128 - unspecified (::)
::1/128 loopback loopback (::1)
::ffff:0:0/96 - IPv4-mapped (::ffff:0:0/96)
64:ff9b::/96 - NAT64 (64:ff9b::/96)
64:ff9b:1::/48 - local NAT64 (64:ff9b:1::/48)
100::/64 - discard (100::/64)
::/3 - not global unicast (outside 2000::/3)
2001::/23 - IETF protocol assignments (2001::/23: Teredo, benchmarking, ORCHID and others)
2001:db8::/32 - documentation (2001:db8::/32)
2002::/16 - 6to4 (2002::/16)
2620:4f:8000::/48 - AS112 (2620:4f:8000::/48)
3fff::/20 - documentation (3fff::/20)
4000::/2 - not global unicast (outside 2000::/3)
fd00:ec2::254/128 - the cloud metadata service (fd00:ec2::254)
fc00::/7 - unique-local (fc00::/7)
fe80::/10 - link-local (fe80::/10)
fec0::/10 - deprecated site-local (fec0::/10)
ff00::/8 - multicast (ff00::/8)
8000::/1 - not global unicast (outside 2000::/3)
'
# END blocked egress

# 10 GiB and one hour: far above a dev database, low enough to stop a runaway.
DEFAULT_MAX_BYTES=10737418240
DEFAULT_MAX_SECONDS=3600
HEAD_BYTES=512
CR=$(printf '\r')
work='' part='' failure_reported=0 mode=get

say() { printf 'restore: %s\n' "$*"; }
# Newlines, tabs and runs of spaces collapse so a failure stays on one line.
one_line() { printf '%s' "$1" | tr '\n\r\t' '   ' | sed 's/   */ /g; s/^ //; s/ $//' | cut -c1-600; }
fail() { failure_reported=1; printf 'restore: %s: %s — %s\n' "$1" "$(one_line "$2")" "$3" >&2; exit 1; }

cleanup() {
    rc=$?
    trap - EXIT
    [ "$rc" -eq 0 ] || [ -z "$part" ] || rm -f "$part"
    [ "$rc" -eq 0 ] || [ "$failure_reported" = 1 ] ||
        printf 'restore: interrupted or unexpected failure: exit status %s — see the output above; nothing was stored\n' "$rc" >&2
    [ -z "$work" ] || rm -rf "$work" || true
    exit "$rc"
}

is_uint() { case $1 in '' | *[!0-9]*) return 1 ;; esac; [ "${#1}" -le 18 ]; }
need_count() { if ! is_uint "$2" || [ "$2" -lt 1 ]; then fail "invalid input" "$1=$2 is not a positive number of $3" "set $1, e.g. $4"; fi; }
lowercase() { printf '%s' "$1" | LC_ALL=C tr '[:upper:]' '[:lower:]'; }

read_inputs() {
    BACKUP_URL=${BACKUP_URL:-}
    RESTORE_MAX_BYTES=${RESTORE_MAX_BYTES:-$DEFAULT_MAX_BYTES}
    RESTORE_MAX_SECONDS=${RESTORE_MAX_SECONDS:-$DEFAULT_MAX_SECONDS}
    RESTORE_WORK_DIR=${RESTORE_WORK_DIR:-${TMPDIR:-/tmp}}
    RESTORE_CA_FILE=${RESTORE_CA_FILE:-}
    RESTORE_ALLOW_HOSTS=${RESTORE_ALLOW_HOSTS:-}
    RESTORE_ALLOW_LOOPBACK=${RESTORE_ALLOW_LOOPBACK:-0}
    bad='invalid input'
    [ -n "$BACKUP_URL" ] || fail "$bad" "fetch needs BACKUP_URL" "set BACKUP_URL to an https:// URL; a BACKUP_FILE is already local, give it to restore.sh"
    need_count RESTORE_MAX_BYTES "$RESTORE_MAX_BYTES" bytes "$DEFAULT_MAX_BYTES"
    need_count RESTORE_MAX_SECONDS "$RESTORE_MAX_SECONDS" seconds "$DEFAULT_MAX_SECONDS"
    case $RESTORE_ALLOW_LOOPBACK in 0 | 1) ;; *) fail "$bad" "RESTORE_ALLOW_LOOPBACK=$RESTORE_ALLOW_LOOPBACK is neither 0 nor 1" "set RESTORE_ALLOW_LOOPBACK to 0 or 1" ;; esac
    if [ -n "$RESTORE_CA_FILE" ] && [ ! -r "$RESTORE_CA_FILE" ]; then
        fail "$bad" "RESTORE_CA_FILE=$RESTORE_CA_FILE is not a readable file" "point RESTORE_CA_FILE at a PEM bundle or unset it to use the system CAs"
    fi
    if [ ! -d "$RESTORE_WORK_DIR" ] || [ ! -w "$RESTORE_WORK_DIR" ]; then
        fail "$bad" "RESTORE_WORK_DIR=$RESTORE_WORK_DIR is not a writable directory" "set RESTORE_WORK_DIR (or TMPDIR) to a writable directory"
    fi
    for tool in cat curl cut getent gzip head mktemp mv od rm sed sha256sum tr wc; do
        command -v "$tool" >/dev/null 2>&1 || fail "missing tool" "$tool is not on PATH" "run this script in an image that has $tool"
    done
}

refuse_url() { fail "refused BACKUP_URL" "$1" "${2:-give an https:// URL of a public host (an object store or file server)}"; }

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
        *[!-A-Za-z0-9._~:/?#@!\$\&\'\(\)\*+,\;=%\[\]]*) refuse_url "it contains characters that are not allowed in a URL" "percent-encode spaces and other special characters" ;;
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
        \[*) url_host=${authority#\[} url_host=${url_host%%\]*} port_part=${authority#*\]} url_is_ip=6 ;;
        *:*:*) refuse_url "malformed host and port '$authority'" ;;
        *) url_host=${authority%%:*} port_part=${authority#"${authority%%:*}"} ;;
    esac
    case $port_part in '') port_part=:443 ;; :*) ;; *) refuse_url "malformed host and port '$authority'" ;; esac
    url_port=${port_part#:}
    if ! is_uint "$url_port" || [ "$url_port" -lt 1 ] || [ "$url_port" -gt 65535 ]; then refuse_url "port '$url_port' is not a number from 1 to 65535"; fi
    url_host=$(lowercase "$url_host")
    if [ "$url_is_ip" = 6 ]; then ipv6_groups "$url_host" || refuse_url "'$url_host' is not an IPv6 address"; return 0; fi
    case $url_host in
        '' | .* | *. | *..*) refuse_url "host '$url_host' is not a valid DNS name" ;;
        *[!a-z0-9.-]*) refuse_url "host '$url_host' is not a valid DNS name" "write international names in their xn-- form" ;;
    esac
    # A name made only of numbers is an IPv4 literal. inet_aton also reads
    # 2130706433, 0177.0.0.1 and 0x7f000001 as 127.0.0.1, so only the plain
    # dotted-decimal form is accepted and checked.
    numeric=1
    for label in $(printf '%s' "$url_host" | tr . ' '); do
        case $label in *[!0-9]*) case $label in 0x*) ;; *) numeric=0 ;; esac ;; esac
    done
    [ "$numeric" = 0 ] && return 0
    ipv4_value "$url_host" || refuse_url "'$url_host' is an IP address in a non-canonical (decimal, octal or hex) form" "write the address as four decimal numbers, e.g. 203.0.113.7, or use the host name"
    url_is_ip=4
}

check_allowed_host() {
    [ -n "$RESTORE_ALLOW_HOSTS" ] || return 0
    for allowed in $(lowercase "$RESTORE_ALLOW_HOSTS" | tr ',' ' '); do
        case $allowed in
            \*.* | .*) case $url_host in *".${allowed#*.}") return 0 ;; esac ;;
            *) [ "$url_host" != "$allowed" ] || return 0 ;;
        esac
    done
    refuse_url "host $url_host is not in RESTORE_ALLOW_HOSTS ($RESTORE_ALLOW_HOSTS)" "use a URL on an allowed host or add the host to the allow-list"
}

# Sets ip4 to the 32-bit value of a canonical dotted quad; fails on any other form.
ipv4_value() {
    case $1 in *.*.*.*.* | *..* | .* | *.) return 1 ;; esac
    old_ifs=$IFS IFS=. ip4=0 n=0
    for octet in $1; do
        case $octet in '' | *[!0-9]* | 0?* | ????*) IFS=$old_ifs; return 1 ;; esac
        [ "$octet" -le 255 ] || { IFS=$old_ifs; return 1; }
        ip4=$((ip4 * 256 + octet)) n=$((n + 1))
    done
    IFS=$old_ifs
    [ "$n" -eq 4 ]
}

# Sets groups (and n) to the decimal values of the colon-separated hex groups in $1.
hex_groups() {
    old_ifs=$IFS IFS=: groups='' n=0
    for g in $1; do
        case $g in '' | *[!0-9a-f]* | ?????*) IFS=$old_ifs; return 1 ;; esac
        groups="$groups $((0x$g))" n=$((n + 1))
    done
    IFS=$old_ifs
}

# Sets groups to the eight 16-bit values (decimal, space-separated) of an IPv6 address; fails if it is not one.
ipv6_groups() {
    a=$1
    case $a in *%* | *::*::* | *:::* | :[!:]* | *[!:]:) return 1 ;; esac
    case $a in *.*) ipv4_value "${a##*:}" || return 1; a="${a%:*}:$(printf '%x:%x' $((ip4 >> 16)) $((ip4 & 65535)))" ;; esac
    case $a in *::*) left=${a%%::*} right=${a#*::} ;; *) left=$a right='' ;; esac
    hex_groups "$right" || return 1
    right=$groups n_right=$n
    hex_groups "$left" || return 1
    case $a in *::*) [ $((n + n_right)) -le 7 ] || return 1 ;; *) [ "$n" -eq 8 ] || return 1 ;; esac
    while [ $((n + n_right)) -lt 8 ]; do groups="$groups 0" n=$((n + 1)); done
    groups="${groups# }$right"
}

# Whether the IPv6 groups $1 lie in the range whose groups are $2 and prefix length $3.
in_range6() {
    left=$3 net=$2
    for g in $1; do
        [ "$left" -gt 0 ] || return 0
        m=${net%% *} net=${net#* } bits=16
        [ "$left" -ge 16 ] || bits=$left
        [ $(((g ^ m) >> (16 - bits))) -eq 0 ] || return 1
        left=$((left - bits))
    done
}

# Sets refusal to the reason of the most specific blocked range holding address $1 (empty when it is public).
address_refusal() {
    refusal='' best=-1 loopback=0
    case $1 in
        *:*) ipv6_groups "$1" || { refusal="'$1' is not an IPv6 address"; return 0; }; addr=$groups ;;
        *) ipv4_value "$1" || { refusal="'$1' is not an IPv4 address"; return 0; }; addr=$ip4 ;;
    esac
    while read -r cidr flag reason; do
        net=${cidr%/*} len=${cidr#*/}
        if [ -z "$cidr" ] || [ "$len" -le "$best" ]; then continue; fi
        case $1/$net in
            *:*/*:*) ipv6_groups "$net" || continue; in_range6 "$addr" "$groups" "$len" || continue ;;
            *:*/* | */*:*) continue ;;
            *) ipv4_value "$net" || continue; [ $(((addr ^ ip4) >> (32 - len))) -eq 0 ] || continue ;;
        esac
        best=$len refusal=$reason loopback=0
        [ "$flag" != loopback ] || loopback=1
    done <<EOF
$BLOCKED_EGRESS
EOF
    if [ "$loopback" = 1 ] && [ "$RESTORE_ALLOW_LOOPBACK" = 1 ]; then refusal=''; fi
}

# Resolves the host once, refuses it if ANY address is blocked (one public and
# one private record is not trusted), and pins the first IPv4 address (else the first IPv6).
resolve_host() {
    addresses=$url_host
    if [ "$url_is_ip" = 0 ]; then
        # glibc's getent has ahosts (every address of every family); musl's (Alpine) only hosts.
        answer=$(getent ahosts "$url_host" 2>/dev/null) || answer=$(getent hosts "$url_host" 2>/dev/null) ||
            refuse_url "host $url_host does not resolve" "check the host name and the DNS the script's container uses"
        addresses=$(printf '%s\n' "$answer" | cut -d' ' -f1 | tr 'A-F' 'a-f')
    fi
    pinned='' pinned6=''
    for address in $addresses; do
        address_refusal "$address"
        if [ -n "$refusal" ]; then
            hint='give a URL on a public host'
            [ "$loopback" = 0 ] || hint="$hint (tests set RESTORE_ALLOW_LOOPBACK=1, which production never does)"
            [ "$url_is_ip" != 0 ] || refuse_url "host $url_host resolves to $address, which is $refusal" "$hint"
            refuse_url "address $address is $refusal" "$hint"
        fi
        case $address in *:*) pinned6=${pinned6:-$address} ;; *) pinned=${pinned:-$address} ;; esac
    done
    pinned=${pinned:-$pinned6}
    [ -n "$pinned" ] || refuse_url "host $url_host has no address"
}

# Prints the last response's validators and, after a download, the file's SHA-256 (the cache's identity).
report_identity() {
    tr -d '\r' <"$work/headers" | sed -n 's/^[Ee][Tt][Aa][Gg]: */fetch: cache-report etag=/p; s/^[Ll]ast-[Mm]odified: */fetch: cache-report last-modified=/p; s/^[Cc]ontent-[Ll]ength: */fetch: cache-report content-length=/p'
    [ "$mode" = head ] || printf 'fetch: cache-report sha256=%s\n' "$(sha256sum "$out_file" | cut -d' ' -f1)"
}

# Sets code and location from the last response in the saved headers.
http_status() {
    code='' location=''
    [ -f "$work/headers" ] || return 0
    while IFS= read -r line; do
        line=${line%"$CR"}
        case $line in
            HTTP/*) code=${line#* } code=${code%% *} location='' ;;
            [Ll]ocation:*) location=${line#*:} location=${location# } ;;
        esac
    done <"$work/headers"
}

# curl writes through head, whose cap (RESTORE_MAX_BYTES + 1) also stops chunked
# responses that --max-filesize cannot; curl's own status lands in a file.
download() {
    set -- --globoff --silent --show-error --fail --no-location --proto =https --proto-redir =https --max-redirs 0 --noproxy '*' \
        --connect-timeout 30 --max-time "$RESTORE_MAX_SECONDS" --max-filesize "$RESTORE_MAX_BYTES" --dump-header "$work/headers"
    [ "$mode" != head ] || set -- "$@" --head
    [ -z "$RESTORE_CA_FILE" ] || set -- "$@" --cacert "$RESTORE_CA_FILE"
    case $url_is_ip/$pinned in
        0/*:*) set -- "$@" --resolve "$url_host:$url_port:[$pinned]" ;;
        0/*) set -- "$@" --resolve "$url_host:$url_port:$pinned" ;;
    esac
    say "downloading $safe_url (pinned to $pinned)"
    { curl -q "$@" --url "$BACKUP_URL" 2>"$work/curl.err" || echo "$?" >"$work/curl.status"; } |
        head -c "$((RESTORE_MAX_BYTES + 1))" >"$part" 2>"$work/save.err" || fail "cannot store the download" "$(cat "$work/save.err")" "check the free space where $out_file is"
    dl_curl=0
    [ ! -f "$work/curl.status" ] || read -r dl_curl <"$work/curl.status"
    source_bytes=$(wc -c <"$part" | tr -d ' ')
    if [ "$source_bytes" -gt "$RESTORE_MAX_BYTES" ] || [ "$dl_curl" = 63 ]; then
        fail "download too large" "$safe_url is larger than RESTORE_MAX_BYTES=$RESTORE_MAX_BYTES bytes" "raise RESTORE_MAX_BYTES or use a smaller backup"
    fi
    http_status
    case $code in
        3??) fail "download failed" "HTTP $code redirect from $safe_url to ${location%%[?#]*}; redirects are not followed because their target is not checked" "set BACKUP_URL to the final URL" ;;
    esac
    curl_err=$(cat "$work/curl.err")
    case $dl_curl in
        0) ;;
        22) fail "download failed" "HTTP $code from $safe_url" "check that BACKUP_URL points to an existing object and that a presigned URL has not expired" ;;
        28) fail "download timed out" "$safe_url did not finish within RESTORE_MAX_SECONDS=$RESTORE_MAX_SECONDS seconds" "check the network path to the host or raise RESTORE_MAX_SECONDS" ;;
        35 | 51 | 53 | 54 | 58 | 59 | 60 | 64 | 66 | 77 | 80 | 82 | 83 | 90 | 91)
            fail "download failed" "TLS error from $safe_url: $curl_err" "check the server's certificate (RESTORE_CA_FILE for a private CA)" ;;
        *) fail "download failed" "curl exit $dl_curl from $safe_url: $curl_err" "check the host is reachable on port $url_port over https and the backup is served completely" ;;
    esac
}

# --- format (the same detect_format and describe_head as restore.sh; a test keeps them equal) ---
# Sets detected to gzip, custom, plain, or what the bytes are instead. One od
# call; the rest matches " xx" byte pairs, so no byte is read twice.
detect_format() {
    bytes=$(od -An -tx1 -v "$1" | tr -s ' \n' '  ')
    rest=$bytes
    while :; do case $rest in ' 20'* | ' 09'* | ' 0a'* | ' 0d'*) rest=${rest#???} ;; *) break ;; esac; done
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
            detected='binary data'
            [ "$(printf '%s' "$bytes" | cut -c772-786)" != ' 75 73 74 61 72' ] || detected='a tar archive (pg_dump -Ft, or files packed with tar)'
            ;;
        *)
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

# The stored file must look like a backup (a gzip must also be complete); the
# inside of a gzip is checked by restore.sh.
check_format() {
    head -c "$HEAD_BYTES" "$part" >"$work/head"
    detect_format "$work/head"
    case $detected in
        gzip) gzip -t "$part" 2>"$work/gzip.err" || fail "gzip data is corrupt or truncated" "$(cat "$work/gzip.err")" "check the backup file is complete (gzip -t) and was uploaded completely" ;;
        plain | custom) ;;
        *) fail "format not recognised" "$detected, $(describe_head "$work/head")" "BACKUP_URL/BACKUP_FILE must be a plain SQL dump, a gzip-compressed SQL dump or a pg_dump custom-format (-Fc) file" ;;
    esac
}

main() {
    case ${1:-} in
        '') fail "usage" "no output file given" "run: fetch.sh FILE (or fetch.sh check)" ;;
        *) [ "$#" -eq 1 ] || fail "usage" "unexpected argument $2" "run: fetch.sh FILE (or fetch.sh check)" ;;
    esac
    trap cleanup EXIT
    trap 'exit 143' TERM; trap 'exit 130' INT; trap 'exit 129' HUP
    read_inputs
    parse_url
    check_allowed_host
    resolve_host
    if [ "$1" = check ]; then
        say "ok: $safe_url -> $pinned port $url_port"
        return 0
    fi
    work=$(mktemp -d "$RESTORE_WORK_DIR/dbaas-fetch.XXXXXX") || fail "cannot create a work directory" "mktemp failed in $RESTORE_WORK_DIR" "check RESTORE_WORK_DIR is writable"
    if [ "$1" = head ]; then
        mode=head part="$work/head.body"
        download
        report_identity
        return 0
    fi
    out_file=$1 part=$1.part
    download
    check_format
    mv "$part" "$out_file" || fail "cannot store the download" "mv to $out_file failed" "check the directory of $out_file is writable"
    part=''
    say "fetched $safe_url into $out_file ($detected, $source_bytes bytes)"
    report_identity
}

main "$@"
