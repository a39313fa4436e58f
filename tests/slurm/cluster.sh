#!/usr/bin/env bash
# A single-node Slurm cluster on this machine, from Debian's packages, for `make test-slurm`:
# munge (authentication), MariaDB + slurmdbd (accounting, which sacct and so the Snakemake
# executor plugin need to see job states), slurmctld and slurmd. Needs root.
#   tests/slurm/cluster.sh install | start | stop
set -euo pipefail
STATE=${SLURM_TEST_DIR:-/tmp/spgd-slurm}
if [ "$(id -u)" != 0 ]; then
    echo "cluster.sh: installing and starting Slurm needs root (Debian packages, daemons, /etc/slurm)" >&2
    exit 1
fi
CLUSTER=spgdtest

install() {
    export DEBIAN_FRONTEND=noninteractive
    if ! command -v slurmctld >/dev/null || ! command -v slurmdbd >/dev/null || ! command -v mariadbd >/dev/null; then
        apt-get update -q
        apt-get install -y -q slurm-wlm slurmdbd munge mariadb-server
    fi
}

start() {
    mkdir -p "$STATE"/{state,spool,log}
    # munge refuses to run as root; its key comes with the package
    mkdir -p /run/munge && chown munge:munge /run/munge /etc/munge/munge.key && chmod 700 /etc/munge
    pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged
    pgrep -x mariadbd >/dev/null || service mariadb start
    mysql -e "CREATE DATABASE IF NOT EXISTS slurm_acct_db;
              CREATE USER IF NOT EXISTS 'slurm'@'localhost';
              ALTER USER 'slurm'@'localhost' IDENTIFIED BY 'spgd-test-only';
              GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost'; FLUSH PRIVILEGES;"
    local cpus memory
    cpus=$(nproc)
    memory=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
    cat > /etc/slurm/slurmdbd.conf <<CONF
AuthType=auth/munge
DbdHost=localhost
SlurmUser=root
LogFile=$STATE/log/slurmdbd.log
PidFile=$STATE/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=spgd-test-only
StorageLoc=slurm_acct_db
CONF
    chmod 600 /etc/slurm/slurmdbd.conf
    cat > /etc/slurm/slurm.conf <<CONF
ClusterName=$CLUSTER
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/state
SlurmdSpoolDir=$STATE/spool
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/log/slurmctld.log
SlurmdLogFile=$STATE/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=localhost
AccountingStoreFlags=job_comment
MpiDefault=none
ReturnToService=2
NodeName=localhost NodeHostname=$(hostname) CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
    pgrep -x slurmdbd >/dev/null || slurmdbd
    wait_for "slurmdbd to answer" slurmdbd.log sacctmgr -n list cluster
    sacctmgr -i add cluster "$CLUSTER" >/dev/null 2>&1 || true
    pgrep -x slurmctld >/dev/null && scontrol reconfigure || slurmctld
    pgrep -x slurmd >/dev/null || slurmd
    sacctmgr -i add account spgd-test cluster="$CLUSTER" >/dev/null 2>&1 || true
    sacctmgr -i add user "$(id -un)" account=spgd-test cluster="$CLUSTER" >/dev/null 2>&1 || true
    wait_for "the node to be idle" slurmctld.log node_idle
    sinfo
}

node_idle() { sinfo -h -o %t 2>/dev/null | grep -q idle; }

# wait_for WHAT LOG COMMAND...: up to 60 s, else fail showing the end of the daemon's log
wait_for() {
    local what=$1 log=$2
    shift 2
    for _ in $(seq 60); do "$@" >/dev/null 2>&1 && return 0; sleep 1; done
    echo "cluster.sh: gave up waiting for $what; end of $STATE/log/$log:" >&2
    tail -n 20 "$STATE/log/$log" >&2
    exit 1
}

stop() {
    local daemon
    for daemon in slurmd slurmctld slurmdbd; do
        pkill -x "$daemon" || true
        for _ in $(seq 30); do pgrep -x "$daemon" >/dev/null || break; sleep 1; done
    done
}

"$@"
