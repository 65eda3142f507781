#!/usr/bin/env bash
# A real one-node SLURM cluster on this machine, for the tests of the slurm executor
# (Debian's slurm-wlm + munge; slurmctld and slurmd run as root, no cgroups, no database).
#
#   tools/slurm_local.sh start   install the packages if absent (apt-get, needs root), write
#                                $DIR/slurm.conf, start munged, slurmctld and slurmd unless
#                                they already run, wait until the node is idle; prints
#                                SLURM_CONF=$DIR/slurm.conf and `started` or `running`
#   tools/slurm_local.sh stop    stop the daemons that `start` started (by their pid files)
#
# DIR: $MIXEDAE_SLURM_DIR, default /var/tmp/mixedae-slurm. Clients find the cluster through
# SLURM_CONF (export it; jobs inherit it). Finished jobs are recorded one line each in
# $DIR/jobcomp.log (jobcomp/filetxt): without slurmdbd and a database, `sacct` is disabled.
set -euo pipefail

DIR="${MIXEDAE_SLURM_DIR:-/var/tmp/mixedae-slurm}"
CONF="$DIR/slurm.conf"
export SLURM_CONF="$CONF"

die() { printf '[slurm_local] ERROR: %s\n' "$*" >&2; exit 1; }
running() { [[ -f "$1" ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

install_packages() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  [[ $(id -u) == 0 ]] || die "slurm-wlm and munge are not installed and this is not root"
  echo "[slurm_local] installing slurm-wlm and munge (apt-get)" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >&2
}

start_munge() {
  mkdir -p /run/munge /var/log/munge /var/lib/munge
  chown munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge
  chmod 0755 /run/munge
  if [[ ! -s /etc/munge/munge.key ]]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
    chown munge:munge /etc/munge/munge.key
    chmod 0400 /etc/munge/munge.key
  fi
  if ! munge -n </dev/null 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- munged
  fi
}

write_conf() {
  local host node
  host=$(hostname -s)
  node=$(slurmd -C | head -1)   # NodeName=... CPUs=... RealMemory=... as slurmd sees them
  mkdir -p "$DIR/state" "$DIR/spool"
  cat >"$CONF" <<EOF
ClusterName=mixedae
SlurmctldHost=$host
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
# a requeued job waits cred_expire seconds before it may start again (default 120)
AuthInfo=cred_expire=5
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# a pass every second (default 60 s / 30 s): a job whose dependency or requeue delay has
# just ended starts at once
SchedulerParameters=sched_interval=1,bf_interval=1
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$DIR/jobcomp.log
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$DIR/spool
SlurmctldPidFile=$DIR/slurmctld.pid
SlurmdPidFile=$DIR/slurmd.pid
SlurmctldLogFile=$DIR/slurmctld.log
SlurmdLogFile=$DIR/slurmd.log
ReturnToService=2
KillWait=5
MinJobAge=3600
$node State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
}

start() {
  install_packages
  if running "$DIR/slurmctld.pid" && running "$DIR/slurmd.pid"; then
    echo "SLURM_CONF=$CONF"
    echo running
    return
  fi
  start_munge
  write_conf
  running "$DIR/slurmctld.pid" || slurmctld -c -f "$CONF"
  running "$DIR/slurmd.pid" || slurmd -f "$CONF"
  for _ in $(seq 60); do
    if sinfo -h -o %t 2>/dev/null | grep -qx idle; then
      echo "SLURM_CONF=$CONF"
      echo started
      return
    fi
    sleep 0.5
  done
  die "the node did not become idle in 30 s; see $DIR/slurmctld.log and $DIR/slurmd.log"
}

stop() {
  local pid
  for daemon in slurmd slurmctld; do
    if running "$DIR/$daemon.pid"; then
      pid=$(cat "$DIR/$daemon.pid")
      kill "$pid"
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    fi
  done
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) die "usage: $0 start|stop" ;;
esac
