#!/bin/sh
# A single-node Slurm on this machine, for `python3 -m pytest -m slurm` and
# bench/slurm: munged, slurmctld and slurmd as plain daemons (no systemd),
# the node being this host. Run as root on Debian/Ubuntu:
#
#   sh bench/slurm/setup-single-node.sh          # install if needed, configure, start
#   sh bench/slurm/setup-single-node.sh stop     # stop the three daemons (packages stay)
#
# Tested with Debian 12's slurm-wlm 22.05. It writes /etc/slurm/slurm.conf
# only if there is none (set FORCE_CONFIG=1 to replace it), so it never
# overwrites a real cluster's configuration.
set -eu

CPUS=${CPUS:-$(nproc)}
NODE=$(hostname -s)
CONF=/etc/slurm/slurm.conf

stop() {
    # The daemons' pid files, never a process name: only what this script started.
    for pidfile in /run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid; do
        pid=$(cat "$pidfile" 2>/dev/null || true)   # read first: the daemons remove it as they exit
        if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
            echo "stopped $(basename "$pidfile" .pid) ($pid)"
        fi
        rm -f "$pidfile"
    done
}

if [ "${1:-start}" = stop ]; then
    stop
    exit 0
fi

[ "$(id -u)" = 0 ] || { echo "run this as root" >&2; exit 1; }

if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null; then
    apt-get update -q
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q slurm-wlm munge
fi

# munge: a key (the package makes one; make it if not), its run directory, the daemon.
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 2>/dev/null
fi
chown munge:munge /etc/munge /etc/munge/munge.key
chmod 700 /etc/munge
chmod 400 /etc/munge/munge.key
mkdir -p /run/munge /var/log/munge /var/lib/munge
chown munge:munge /run/munge /var/log/munge /var/lib/munge
chmod 755 /run/munge
if ! munge -n >/dev/null 2>&1; then
    su -s /bin/sh munge -c "munged --pid-file=/run/munge/munged.pid"
    munge -n | unmunge >/dev/null
fi

if [ ! -e "$CONF" ] || [ "${FORCE_CONFIG:-0}" = 1 ]; then
    mkdir -p /etc/slurm
    cat > "$CONF" <<CONFEOF
# Written by git-exp's bench/slurm/setup-single-node.sh: one node, this host.
ClusterName=gitexp
SlurmctldHost=$NODE
SlurmUser=slurm
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
ReturnToService=2
# Job arrays of a few hundred entries are fine.
MaxArraySize=10001
SchedulerParameters=sched_interval=2
NodeName=$NODE CPUs=$CPUS State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONFEOF
fi

mkdir -p /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
chown slurm:slurm /var/spool/slurmctld /var/log/slurm

if ! [ -s /run/slurmctld.pid ] || ! kill -0 "$(cat /run/slurmctld.pid)" 2>/dev/null; then
    slurmctld          # daemonises; runs as SlurmUser
fi
if ! [ -s /run/slurmd.pid ] || ! kill -0 "$(cat /run/slurmd.pid)" 2>/dev/null; then
    slurmd             # daemonises; stays root, to start jobs as their users
fi

# Wait for the node to come up, then show it works.
tries=0
until sinfo -h -o '%t' 2>/dev/null | grep -qE '^(idle|mix|alloc)'; do
    tries=$((tries + 1))
    if [ $tries -gt 30 ]; then
        echo "the node did not come up; see /var/log/slurm/*.log" >&2
        sinfo >&2 || true
        exit 1
    fi
    sleep 1
done
sinfo
srun -N1 -n1 hostname
