#!/usr/bin/env bash
# devstack plugin for midonet-ryu: installs the project (and, with the Neutron
# server, its Neutron package networking-midonet-ryu), writes its
# configuration, wires Neutron to it (ML2 mechanism driver midonet_ryu, L3
# service plugin midonet_ryu_l3), and runs ZooKeeper (optional), the cluster
# daemon and the host agent as devstack services. Settings: devstack/settings;
# the local.conf to use: devstack/README.md.
#
# devstack sources this file once per phase, in its own shell: functions and
# variables here are prefixed mr_/MR_ so they cannot shadow devstack's.
#
# Phases (stack.sh's order):
#   stack install      the packages and setup_develop of both Python projects
#   stack post-config  devstack has configured Neutron and run its DB migration
#                      by now, and starts the Neutron server right after this
#                      phase (then creates the initial networks through it), so
#                      everything Neutron needs happens here: our
#                      configuration, Neutron's, our DB migration, and the
#                      daemons, waited for until the REST API answers
#   stack extra        nothing left to do
#   unstack            stop the agent, the cluster, ZooKeeper
#   clean              remove our configuration, our data and our br-int

MR_XTRACE=$(set +o | grep xtrace)
set -o xtrace

# Debian's zookeeper.jar omits some of its Netty jars from its manifest.
MR_ZOOKEEPER_CLASSPATH=/usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/netty-transport-native-unix-common.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar
# The agent marks the bridge it set up with this external_id (apps/agent_boot.py).
MR_BRIDGE_MARK=midonet-generation
# Neutron's own router plugin, which midonet_ryu_l3 replaces.
MR_NEUTRON_ROUTER_PLUGINS=(router neutron.services.l3_router.l3_router_plugin.L3RouterPlugin)

function mr_neutron_server_enabled {
    is_service_enabled q-svc neutron-api
}

# --- settings ------------------------------------------------------------------

# The defaults devstack only knows after settings was read, and the checks a
# wrong value would otherwise fail much later (at the first Neutron request).
function mr_check_settings {
    local xtrace
    xtrace=$(set +o | grep xtrace)
    set +o xtrace
    MIDONET_RYU_API_PASSWORD=${MIDONET_RYU_API_PASSWORD:-${SERVICE_PASSWORD:-}}
    if [[ -z "$MIDONET_RYU_API_PASSWORD" ]]; then
        die $LINENO "MIDONET_RYU_API_PASSWORD is not set and there is no SERVICE_PASSWORD" \
            "to default it to: set one of them in local.conf"
    fi
    if [[ "$MIDONET_RYU_API_PASSWORD" == *$'\n'* ]]; then
        die $LINENO "MIDONET_RYU_API_PASSWORD may not contain a newline"
    fi
    $xtrace
    if [[ ! "$MIDONET_RYU_API_USER" =~ ^[A-Za-z0-9._@-]+$ ]]; then
        die $LINENO "MIDONET_RYU_API_USER '$MIDONET_RYU_API_USER' must be letters, digits and ._@-"
    fi
    if [[ -z "$MIDONET_RYU_ZOOKEEPER_HOSTS" ]]; then
        die $LINENO "MIDONET_RYU_ZOOKEEPER_HOSTS is empty: name the ZooKeeper servers (host:port,...)"
    fi
    if is_service_enabled mr-agent && [[ -z "$MIDONET_RYU_UNDERLAY_IP" ]]; then
        die $LINENO "MIDONET_RYU_UNDERLAY_IP is empty (and so is HOST_IP):" \
            "set this host's tunnel endpoint address"
    fi
    if [[ ! "$MIDONET_RYU_API_TIMEOUT" =~ ^[0-9]+$ ]]; then
        die $LINENO "MIDONET_RYU_API_TIMEOUT '$MIDONET_RYU_API_TIMEOUT' is not a number of seconds"
    fi
    mr_provider_uplinks
}

# MR_ITEMS: the non-empty items of a comma or space separated list.
function mr_split {
    local item items
    MR_ITEMS=()
    IFS=$', \t\n' read -r -a items <<< "$1"
    for item in "${items[@]}"; do
        if [[ -n "$item" ]]; then
            MR_ITEMS+=("$item")
        fi
    done
}

# MR_PROVIDER_UPLINKS: MIDONET_RYU_PROVIDER_UPLINKS (comma or space separated)
# as [neutron] provider_uplinks wants it, comma separated physnet:hostname:interface.
# (These helpers set a variable rather than print, so that their die is not
# lost in a command substitution's subshell.)
function mr_provider_uplinks {
    local entry entries=()
    mr_split "$MIDONET_RYU_PROVIDER_UPLINKS"
    for entry in "${MR_ITEMS[@]}"; do
        if [[ ! "$entry" =~ ^[^:]+:[^:]+:[^:]+$ ]]; then
            die $LINENO "MIDONET_RYU_PROVIDER_UPLINKS: '$entry' is not physnet:hostname:interface"
        fi
        entries+=("$entry")
    done
    local IFS=,
    MR_PROVIDER_UPLINKS="${entries[*]}"
}

# MR_TOKEN_SECRET: [auth] token_secret, with oslo.config's $ written $$.
function mr_token_secret {
    local secret=$MIDONET_RYU_TOKEN_SECRET
    if [[ -z "$secret" && -n "${SERVICE_PASSWORD:-}" ]]; then
        secret=$(printf 'midonet-ryu token_secret %s' "$SERVICE_PASSWORD" | sha256sum)
        secret=${secret%% *}
    elif [[ -z "$secret" ]]; then
        local file=$MIDONET_RYU_DATA_DIR/token_secret
        if [[ ! -s "$file" ]]; then
            (umask 077 && "${PYTHON:-python3}" -m cluster_proxy.rest_api.auth gen-secret > "$file")
        fi
        secret=$(cat "$file")
    fi
    if (( ${#secret} < 16 )); then
        die $LINENO "MIDONET_RYU_TOKEN_SECRET must have at least 16 characters"
    fi
    MR_TOKEN_SECRET=${secret//\$/\$\$}
}

# MR_PASSWORD_HASH: the scrypt hash of the API password, for [auth] users
# (hash-password reads the first line of its standard input when that is not
# a terminal, and would prompt at one).
function mr_password_hash {
    MR_PASSWORD_HASH=$(printf '%s\n' "$MIDONET_RYU_API_PASSWORD" |
                       "${PYTHON:-python3}" -m cluster_proxy.rest_api.auth hash-password) ||
        die $LINENO "could not hash MIDONET_RYU_API_PASSWORD with ${PYTHON:-python3}" \
            "-m cluster_proxy.rest_api.auth hash-password (is midonet-ryu installed in it?)"
}

# --- install -------------------------------------------------------------------

function mr_install {
    install_package openvswitch-switch zookeeper default-jre-headless socat curl
    setup_develop "$MIDONET_RYU_DIR"
    if mr_neutron_server_enabled; then
        if [[ ! -d "$MIDONET_RYU_NEUTRON_DIR" ]]; then
            die $LINENO "the Neutron package is not at $MIDONET_RYU_NEUTRON_DIR (MIDONET_RYU_NEUTRON_DIR)"
        fi
        setup_develop "$MIDONET_RYU_NEUTRON_DIR"
    fi
}

# --- post-config ---------------------------------------------------------------

function mr_configure {
    sudo install -d -o "$STACK_USER" "$MIDONET_RYU_CONF_DIR" "$MIDONET_RYU_DATA_DIR"
    local xtrace
    xtrace=$(set +o | grep xtrace)
    set +o xtrace
    mr_password_hash
    mr_token_secret
    # it holds a password hash and the token secret
    touch "$MIDONET_RYU_CONF"
    chmod 600 "$MIDONET_RYU_CONF"
    cat > "$MIDONET_RYU_CONF" <<CONF
[DEFAULT]
debug = ${ENABLE_DEBUG_LOG_LEVEL:-True}

[zookeeper]
zookeeper_hosts = $MIDONET_RYU_ZOOKEEPER_HOSTS
root_key = $MIDONET_RYU_ROOT_KEY

[host]
host_id_file = $MIDONET_RYU_DATA_DIR/host_id

[agent]
integration_bridge = $MIDONET_RYU_INTEGRATION_BRIDGE
ovsdb_connection = unix:/var/run/openvswitch/db.sock
openflow_listen_address = 127.0.0.1
openflow_listen_port = $MIDONET_RYU_OPENFLOW_PORT
underlay_ip = $MIDONET_RYU_UNDERLAY_IP
tunnel_zones = $MIDONET_RYU_TUNNEL_ZONE
tunnel_type = $MIDONET_RYU_TUNNEL_TYPE
control_socket = $MIDONET_RYU_DATA_DIR/agent.sock

[cluster]
rest_api_port = $MIDONET_RYU_API_PORT
# agents on other hosts find the State Proxy by this address (else by hostname)
state_proxy_advertise_address = ${HOST_IP:-}

[auth]
strategy = local
users = $MIDONET_RYU_API_USER:$MR_PASSWORD_HASH::admin
token_secret = $MR_TOKEN_SECRET

[neutron]
provider_uplinks = $MR_PROVIDER_UPLINKS
CONF
    $xtrace
    if is_service_enabled mr-zookeeper; then
        mr_configure_zookeeper
    fi
}

# mr-zookeeper's own configuration and data directory, rather than the
# package's (its dataDir belongs to another user, its admin server takes
# port 8080, which Swift's proxy uses).
function mr_configure_zookeeper {
    mkdir -p "$MIDONET_RYU_DATA_DIR/zookeeper"
    cat > "$MIDONET_RYU_CONF_DIR/zoo.cfg" <<CONF
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$MIDONET_RYU_DATA_DIR/zookeeper
clientPort=$MIDONET_RYU_ZOOKEEPER_PORT
admin.enableServer=false
4lw.commands.whitelist=srvr,ruok
maxClientCnxns=0
CONF
    cat > "$MIDONET_RYU_CONF_DIR/zookeeper-log4j.properties" <<'CONF'
log4j.rootLogger=INFO, CONSOLE
log4j.appender.CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CONSOLE.layout.ConversionPattern=%p [%t] %c{1}: %m%n
CONF
}

# A comma separated list ($1) without the items $3..., with $2 in it once.
function mr_list_replace {
    local list=$1 add=$2
    shift 2
    local item drop out=()
    mr_split "$list"
    for item in "${MR_ITEMS[@]}"; do
        for drop in "$@" "${out[@]}"; do
            if [[ "$item" == "$drop" ]]; then
                continue 2
            fi
        done
        out+=("$item")
    done
    for item in "${out[@]}"; do
        if [[ "$item" == "$add" ]]; then
            add=""
        fi
    done
    if [[ -n "$add" ]]; then
        out+=("$add")
    fi
    local IFS=,
    echo "${out[*]}"
}

# MR_ML2_CONF: the core plugin's configuration file, which devstack names
# relative to / (Q_PLUGIN_CONF_FILE, also NEUTRON_CORE_PLUGIN_CONF).
function mr_ml2_conf {
    local conf=${Q_PLUGIN_CONF_FILE:-${NEUTRON_CORE_PLUGIN_CONF:-}}
    if [[ -z "$conf" || -z "${NEUTRON_CONF:-}" ]]; then
        die $LINENO "NEUTRON_CONF and Q_PLUGIN_CONF_FILE are not set: has devstack configured Neutron?"
    fi
    MR_ML2_CONF=/${conf#/}
}

function mr_configure_neutron {
    mr_ml2_conf
    local xtrace
    xtrace=$(set +o | grep xtrace)
    set +o xtrace
    iniset "$MR_ML2_CONF" midonet_ryu cluster_url "$MIDONET_RYU_API_URL"
    iniset "$MR_ML2_CONF" midonet_ryu username "$MIDONET_RYU_API_USER"
    iniset "$MR_ML2_CONF" midonet_ryu password "$MIDONET_RYU_API_PASSWORD"
    $xtrace
    iniset "$MR_ML2_CONF" midonet_ryu project_id ""
    iniset "$MR_ML2_CONF" midonet_ryu sync_interval 600

    iniset "$MR_ML2_CONF" ml2 mechanism_drivers midonet_ryu
    local extensions
    extensions=$(iniget "$MR_ML2_CONF" ml2 extension_drivers)
    iniset "$MR_ML2_CONF" ml2 extension_drivers "$(mr_list_replace "$extensions" port_security)"

    # devstack writes service_plugins from Q_SERVICE_PLUGIN_CLASSES once more
    # after this phase (configure_neutron_after_post_config): fix both.
    local plugins
    plugins=$(iniget "$NEUTRON_CONF" DEFAULT service_plugins)
    Q_SERVICE_PLUGIN_CLASSES=$(mr_list_replace "${Q_SERVICE_PLUGIN_CLASSES:-},$plugins" \
                                               midonet_ryu_l3 "${MR_NEUTRON_ROUTER_PLUGINS[@]}")
    iniset "$NEUTRON_CONF" DEFAULT service_plugins "$Q_SERVICE_PLUGIN_CLASSES"
}

# Our tables, after Neutron's own (init_neutron, which devstack waits for
# before post-config).
function mr_migrate_neutron_db {
    mr_ml2_conf
    "${NEUTRON_BIN_DIR:+$NEUTRON_BIN_DIR/}neutron-db-manage" --config-file "$NEUTRON_CONF" \
        --config-file "$MR_ML2_CONF" --subproject networking-midonet-ryu upgrade head
}

function mr_start {
    if is_service_enabled mr-zookeeper; then
        run_process mr-zookeeper "java -Xmx512m -Dlog4j.configuration=file:$MIDONET_RYU_CONF_DIR/zookeeper-log4j.properties -Dzookeeper.jmx.log4j.disable=true -cp $MR_ZOOKEEPER_CLASSPATH org.apache.zookeeper.server.quorum.QuorumPeerMain $MIDONET_RYU_CONF_DIR/zoo.cfg"
    fi
    local command
    if is_service_enabled mr-cluster; then
        command=$(command -v midonet-cluster) || mr_not_installed midonet-cluster
        run_process mr-cluster "$command --config-file $MIDONET_RYU_CONF"
    fi
    if is_service_enabled mr-agent; then
        command=$(command -v midonet-agent) || mr_not_installed midonet-agent
        run_process mr-agent "$command --config-file $MIDONET_RYU_CONF" root root
    fi
}

function mr_not_installed {
    die $LINENO "$1 is not on PATH: stack install runs setup_develop $MIDONET_RYU_DIR"
}

# Until the REST API answers (any HTTP status: GET <base>/ needs a token), at
# most MIDONET_RYU_API_TIMEOUT seconds; then Neutron's credentials must log in.
function mr_wait_for_api {
    local url=${MIDONET_RYU_API_URL%/}
    local code="" i
    echo "Waiting for the midonet-ryu REST API at $url/"
    for (( i = 0; i < MIDONET_RYU_API_TIMEOUT; i++ )); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$url/") || true
        if [[ -n "$code" && "$code" != 000 ]]; then
            break
        fi
        sleep 1
    done
    if [[ -z "$code" || "$code" == 000 ]]; then
        die $LINENO "the midonet-ryu REST API at $url/ did not answer within" \
            "${MIDONET_RYU_API_TIMEOUT}s: see journalctl -u devstack@mr-cluster"
    fi
    local xtrace
    xtrace=$(set +o | grep xtrace)
    set +o xtrace
    if ! curl -s -f -o /dev/null --max-time 10 -X POST \
            -u "$MIDONET_RYU_API_USER:$MIDONET_RYU_API_PASSWORD" "$url/login"; then
        die $LINENO "the midonet-ryu REST API at $url refuses MIDONET_RYU_API_USER's login:" \
            "Neutron could not use it"
    fi
    $xtrace
}

function mr_post_config {
    mr_check_settings
    mr_configure
    if mr_neutron_server_enabled; then
        mr_configure_neutron
        mr_migrate_neutron_db
    fi
    mr_start
    if is_service_enabled mr-cluster || mr_neutron_server_enabled; then
        mr_wait_for_api
    fi
}

# --- unstack and clean ------------------------------------------------------------

# The agent first (it is a client of both), then the cluster, then ZooKeeper.
function mr_stop {
    stop_process mr-agent
    stop_process mr-cluster
    stop_process mr-zookeeper
}

function mr_clean {
    local dir
    for dir in "$MIDONET_RYU_CONF_DIR" "$MIDONET_RYU_DATA_DIR"; do
        if [[ -n "$dir" && "$dir" != / ]]; then
            sudo rm -rf "$dir"
        fi
    done
    # br-int only if our agent set it up (it marks it), not someone else's
    local bridge=$MIDONET_RYU_INTEGRATION_BRIDGE
    if command -v ovs-vsctl > /dev/null && sudo ovs-vsctl br-exists "$bridge" &&
            [[ -n "$(sudo ovs-vsctl br-get-external-id "$bridge" "$MR_BRIDGE_MARK")" ]]; then
        sudo ovs-vsctl --if-exists del-br "$bridge"
    fi
}

if [[ "$1" == "stack" && "$2" == "install" ]]; then
    mr_install
elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
    mr_post_config
elif [[ "$1" == "unstack" ]]; then
    mr_stop
elif [[ "$1" == "clean" ]]; then
    mr_clean
fi

$MR_XTRACE
