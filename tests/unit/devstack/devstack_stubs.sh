# shellcheck shell=bash
# Stand-ins for the devstack functions devstack/settings and devstack/plugin.sh
# call, sourced by the tests before them. Every call is recorded in
# $MR_TEST_CALLS, one line per call: the name and the arguments, tab separated
# (the stub executables on PATH record into the same file). Services are
# devstack's ENABLED_SERVICES and DISABLED_SERVICES, comma separated.

function mr_test_record {
    local IFS=$'\t'
    printf '%s\n' "$*" >> "$MR_TEST_CALLS"
}

function die {
    local line=$1
    shift
    echo "ERROR: line $line: $*" >&2
    exit 1
}

function warn {
    local line=$1
    shift
    echo "WARNING: line $line: $*" >&2
}

function install_package {
    mr_test_record install_package "$@"
}

function setup_develop {
    mr_test_record setup_develop "$@"
}

function run_process {
    mr_test_record run_process "$@"
}

function stop_process {
    mr_test_record stop_process "$@"
}

function is_service_enabled {
    local service
    for service in "$@"; do
        if [[ ",${ENABLED_SERVICES:-}," == *",$service,"* ]]; then
            return 0
        fi
    done
    return 1
}

function enable_service {
    mr_test_record enable_service "$@"
    local service
    for service in "$@"; do
        if [[ ",${DISABLED_SERVICES:-}," == *",$service,"* ]]; then
            warn $LINENO "Attempt to enable_service $service when it has been disabled"
        elif ! is_service_enabled "$service"; then
            ENABLED_SERVICES=${ENABLED_SERVICES:+$ENABLED_SERVICES,}$service
        fi
    done
}

function disable_service {
    mr_test_record disable_service "$@"
    local service
    for service in "$@"; do
        DISABLED_SERVICES=${DISABLED_SERVICES:+$DISABLED_SERVICES,}$service
        ENABLED_SERVICES=,${ENABLED_SERVICES:-},
        ENABLED_SERVICES=${ENABLED_SERVICES//,$service,/,}
        ENABLED_SERVICES=${ENABLED_SERVICES#,}
        ENABLED_SERVICES=${ENABLED_SERVICES%,}
    done
}

# iniset [-sudo] FILE SECTION OPTION VALUE: set or add OPTION in [SECTION],
# adding the section at the end when it is missing (as devstack's does).
function iniset {
    if [[ "$1" == -sudo ]]; then
        shift
    fi
    mr_test_record iniset "$@"
    local file=$1 section=$2 option=$3 value=${4:-}
    mkdir -p "$(dirname "$file")"
    touch "$file"
    local tmp
    tmp=$(mktemp "$file.XXXXXX")
    SECTION=$section OPTION=$option VALUE=$value awk '
        function put() { if (!done) { print ENVIRON["OPTION"] " = " ENVIRON["VALUE"]; done = 1 } }
        /^\[.*\][ \t]*$/ {
            if (in_section) put()
            in_section = ($0 == "[" ENVIRON["SECTION"] "]")
            if (in_section) seen = 1
            print
            next
        }
        in_section && index($0, ENVIRON["OPTION"]) == 1 &&
            substr($0, length(ENVIRON["OPTION"]) + 1) ~ /^[ \t]*=/ { put(); next }
        { print }
        END {
            if (in_section) put()
            if (!seen) { print ""; print "[" ENVIRON["SECTION"] "]"; put() }
        }' "$file" > "$tmp"
    mv "$tmp" "$file"
}

# iniget FILE SECTION OPTION: the value, or nothing.
function iniget {
    local file=$1 section=$2 option=$3
    [[ -f "$file" ]] || return 0
    SECTION=$section OPTION=$option awk '
        /^\[.*\][ \t]*$/ { in_section = ($0 == "[" ENVIRON["SECTION"] "]"); next }
        in_section && index($0, ENVIRON["OPTION"]) == 1 &&
            substr($0, length(ENVIRON["OPTION"]) + 1) ~ /^[ \t]*=/ {
            sub(/^[^=]*=[ \t]*/, "")
            print
            exit
        }' "$file"
}
