#!/usr/bin/env bash
# devstack plugin for midonet-ryu: installs the project, writes its
# configuration, and runs ZooKeeper (optional), the cluster daemon and the
# host agent as devstack services.
#
# What it does not do yet: Neutron integration (an ML2 mechanism driver
# translating networks, ports and security groups into the NSDB). Until then
# the topology is created through the NSDB API (midonet_ryu.nsdb.store).

MR_XTRACE=$(set +o | grep xtrace)
set -o xtrace

function mr_install {
    install_package openvswitch-switch zookeeper default-jre-headless socat
    setup_develop "$MIDONET_RYU_DIR"
}

function mr_configure {
    sudo install -d -o "$STACK_USER" "$MIDONET_RYU_CONF_DIR" "$MIDONET_RYU_DATA_DIR"
    cat > "$MIDONET_RYU_CONF" <<CONF
[DEFAULT]
debug = $ENABLE_DEBUG_LOG_LEVEL

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
CONF
}

function mr_start {
    if is_service_enabled mr-zookeeper; then
        run_process mr-zookeeper "java -cp /usr/share/java/zookeeper.jar:/usr/share/java/netty-codec.jar:/usr/share/java/netty-resolver.jar:/usr/share/java/netty-transport-native-unix-common.jar:/usr/share/java/slf4j-log4j12.jar:/usr/share/java/log4j-1.2.jar org.apache.zookeeper.server.quorum.QuorumPeerMain /etc/zookeeper/conf/zoo.cfg"
    fi
    if is_service_enabled mr-cluster; then
        run_process mr-cluster "$(which midonet-cluster) --config-file $MIDONET_RYU_CONF"
    fi
    if is_service_enabled mr-agent; then
        run_process mr-agent "$(which midonet-agent) --config-file $MIDONET_RYU_CONF" root root
    fi
}

function mr_stop {
    stop_process mr-agent
    stop_process mr-cluster
    stop_process mr-zookeeper
}

if [[ "$1" == "stack" && "$2" == "install" ]]; then
    mr_install
elif [[ "$1" == "stack" && "$2" == "post-config" ]]; then
    mr_configure
elif [[ "$1" == "stack" && "$2" == "extra" ]]; then
    mr_start
elif [[ "$1" == "unstack" ]]; then
    mr_stop
fi

$MR_XTRACE
