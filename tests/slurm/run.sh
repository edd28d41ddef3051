#!/bin/sh
# The Slurm recipes of docs/reproduce.md on a real single-node Slurm:
#   sh tests/slurm/run.sh HEADCAL SRCDIR WORKDIR
# starts munged, slurmctld and slurmd from Debian's packages with a
# slurm.conf generated in WORKDIR (no systemd, nothing outside WORKDIR),
# and runs on a synthetic model
#   1. docs/slurm/headcal-array.sbatch as an array job, one task cancelled
#      midway (scancel) and requeued as a preempted task is, then merged;
#   2. docs/slurm/submit-mean-ablation.sh: the means in shards, their merge
#      and the sweep as jobs chained by --dependency=afterok, then merged;
# and checks each merged file is byte for byte the single-process run's.
# Exit 0: passed; 77: cannot run here (the reason on stdout); else failed.
# The daemons are stopped however it ends.
set -u
hc="$1" src="$2" w="$3"

skip() { echo "skipped: $*"; exit 77; }
for c in munged munge slurmctld slurmd sbatch squeue scancel scontrol sinfo python3 timeout; do
    command -v "$c" >/dev/null 2>&1 || skip "no $c (scripts/deps.sh installs slurmctld, slurmd, slurm-client, munge)"
done
[ "$(id -u)" -eq 0 ] || skip "the test's Slurm runs its daemons and jobs as root"

fail() { echo "FAIL: $*" >&2; exit 1; }
rm -rf "$w" && mkdir -p "$w/bin" || fail "cannot make $w"
w="$(cd "$w" && pwd)"
# The daemons' sockets live in a short path of their own: a Unix socket's
# path must fit in 108 bytes, and build trees can be deep.
rt="$(mktemp -d /tmp/headcal-slurm.XXXXXX)" && mkdir "$rt/munge" "$rt/state" "$rt/spool" || fail "mktemp"
export SLURM_CONF="$w/slurm.conf"

stop() {
    scancel --quiet --full --user=root 2>/dev/null
    timeout 20 scontrol shutdown >/dev/null 2>&1
    for p in slurmctld slurmd munge/munged; do
        [ -f "$rt/$p.pid" ] && kill "$(cat "$rt/$p.pid")" 2>/dev/null
    done
    sleep 1
    rm -rf "$rt"
    return 0
}
on_exit() {
    st=$?
    if [ "$st" -ne 0 ] && [ "$st" -ne 77 ]; then
        for f in "$rt"/slurmctld.log "$rt"/slurmd.log "$w"/*/slurm-*.out; do
            [ -f "$f" ] && { echo "--- $f" >&2; tail -n 15 "$f" >&2; }
        done
    fi
    stop
}
trap on_exit EXIT
trap 'exit 143' TERM INT HUP

# -- the cluster: one node; the machine's cores are oversubscribed so that
# the recipes' own #SBATCH requests (8 CPUs, 8G per task) fit unchanged
ports="$(python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')" || fail "no free ports"
set -- $ports
node="$(hostname -s)"
cat >"$SLURM_CONF" <<EOF
ClusterName=headcaltest
SlurmctldHost=$node(127.0.0.1)
SlurmctldPort=$1
SlurmdPort=$2
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$rt/munge/sock
StateSaveLocation=$rt/state
SlurmdSpoolDir=$rt/spool
SlurmctldPidFile=$rt/slurmctld.pid
SlurmdPidFile=$rt/slurmd.pid
SlurmctldLogFile=$rt/slurmctld.log
SlurmdLogFile=$rt/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/builtin
SchedulerParameters=sched_interval=2
MpiDefault=none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SlurmdParameters=config_overrides
ReturnToService=2
JobRequeue=1
MinJobAge=3600
KillWait=5
NodeName=$node NodeAddr=127.0.0.1 CPUs=16 RealMemory=65536 State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=30 State=UP
EOF
head -c 1024 /dev/urandom >"$rt/munge/key" && chmod 400 "$rt/munge/key"
munged --key-file="$rt/munge/key" --socket="$rt/munge/sock" --pid-file="$rt/munge/munged.pid" \
    --log-file="$rt/munge/log" --seed-file="$rt/munge/seed" --force || skip "munged does not start here"
slurmctld -i || fail "slurmctld does not start"
slurmd || fail "slurmd does not start"

# waits up to $1 seconds for the command after it to succeed
wait_for() {
    t="$1"
    shift
    while ! "$@"; do
        t=$((t - 1))
        [ "$t" -gt 0 ] || return 1
        sleep 1
    done
}
node_idle() { sinfo -h -o %t 2>/dev/null | grep -qx idle; }
wait_for 60 node_idle || fail "the node never became idle: $(sinfo 2>&1)"

# headcal as the jobs find it: on the PATH they inherit from sbatch
ln -s "$(cd "$(dirname "$hc")" && pwd)/$(basename "$hc")" "$w/bin/headcal"
export PATH="$w/bin:$PATH"
headcal synth --out "$w/model" --layers 4 --heads 4 --d-model 64 --n-ctx 64 --seed 7 || fail "synth"
# enough batches (9 a task, each a fraction of a second) that a task can be
# caught between its first checkpoint and its end
common="--model $w/model --data $src/data/eval.jsonl --batches 36 --batch-size 8 --seq-len 64 --top-k 5 --bins 20 --mlp"

# no job left in the queue; a job whose dependency failed ends the test
no_jobs_left() {
    q="$(squeue -h -o '%i %r' 2>/dev/null)"
    case "$q" in *DependencyNeverSatisfied*) fail "a job's dependency failed: $q" ;; esac
    [ -z "$q" ]
}
# every task of job $1 ended COMPLETED with exit code 0
all_completed() {
    bad="$(scontrol -o show job "$1" | grep -v 'JobState=COMPLETED .*ExitCode=0:0' | grep -o 'JobId=[0-9]* ArrayJobId=[0-9]* ArrayTaskId=[0-9]*\|JobState=[A-Z_]*')"
    [ -z "$bad" ] || fail "job $1 did not complete: $bad"
}
same() { cmp -s "$1" "$2" || fail "$1 differs from the single-process run $2"; }

# -- 1. the array job, with one task preempted
mkdir "$w/zero" && cd "$w/zero" || fail "cd"
headcal run $common --quiet --out single.json || fail "single run"
job="$(sbatch --parsable --array=0-3 "$src/docs/slurm/headcal-array.sbatch" $common)" || fail "sbatch"
# Task 1 is cancelled once it has checkpointed a batch: a running task's
# batches are lines of its side file shard-1.json.partial, polled ten times
# a second, since a batch takes a fraction of one.
has_batch() { grep -qs '^{"batch":' shard-1.json.partial; }
n=1200
while ! has_batch; do
    n=$((n - 1))
    [ "$n" -gt 0 ] || fail "task 1 never checkpointed a batch"
    sleep 0.1
done
scancel "${job}_1" || fail "scancel"
cancelled() { scontrol -o show job "${job}_1" | grep -q 'JobState=CANCELLED'; }
wait_for 30 cancelled || fail "task 1 was not cancelled: $(scontrol -o show job "${job}_1")"
# only a completed task writes shard-1.json itself
[ -e shard-1.json ] && fail "task 1 had finished before it was cancelled"
# merging the other tasks' files must fail, naming task 1's shard
others_done() { [ -e shard-0.json ] && [ -e shard-2.json ] && [ -e shard-3.json ]; }
wait_for 300 others_done || fail "tasks 0, 2 and 3 did not finish: $(squeue)"
if headcal merge --out early.json shard-*.json 2>merge.err; then fail "merge of an incomplete run succeeded"; fi
grep -q "shard 1 of 4 missing" merge.err || fail "merge did not name the missing shard: $(cat merge.err)"
[ ! -e early.json ] || fail "the refused merge wrote early.json"
# requeued as preemption does; the requeue delay is waived for the test
scontrol requeue "${job}_1" || fail "scontrol requeue"
scontrol update JobId="${job}_1" StartTime=now || fail "scontrol update StartTime"
wait_for 300 no_jobs_left || fail "the array job did not finish: $(squeue)"
all_completed "$job"
scontrol -o show job "${job}_1" | grep -q 'Restarts=1' || fail "task 1 did not run twice"
headcal merge --out merged.json shard-*.json || fail "merge"
same merged.json single.json
echo "array job: 4 tasks, task 1 cancelled and requeued, merged file identical"

# -- 2. mean ablation: means in shards, merged, read by the sweep's shards
mkdir "$w/mean" && cd "$w/mean" || fail "cd"
headcal run $common --ablation mean --quiet --out single.json || fail "single run"
job="$(sh "$src/docs/slurm/submit-mean-ablation.sh" 3 4 $common --ablation mean)" || fail "submit"
wait_for 300 no_jobs_left || fail "the mean-ablation jobs did not finish: $(squeue)"
all_completed "$job"
headcal merge --out merged.json shard-*.json || fail "merge"
same merged.json single.json
echo "mean ablation: 3 means tasks, merge, 4 sweep tasks (afterok), merged file identical"
