#!/bin/sh
# Submits a mean-ablation run as three dependent Slurm jobs and prints the
# sweep's job id:
#   sh submit-mean-ablation.sh MEANS_TASKS SWEEP_TASKS RUN-OPTIONS...
# 1. the means in MEANS_TASKS shards (headcal-means.sbatch),
# 2. once all have succeeded, their merge into means.st,
# 3. then the sweep in SWEEP_TASKS shards reading means.st
#    (headcal-array.sbatch ... --means means.st).
# Files go to the current directory.  When the sweep is done:
#   headcal merge --out run.json shard-*.json
set -e
[ $# -ge 2 ] || { echo "usage: sh $0 MEANS_TASKS SWEEP_TASKS RUN-OPTIONS..." >&2; exit 2; }
here="$(dirname "$0")"
m="$1" n="$2"
shift 2
means="$(sbatch --parsable --array="0-$((m - 1))" "$here/headcal-means.sbatch" "$@")"
merged="$(sbatch --parsable --dependency="afterok:$means" --job-name=headcal-means-merge \
    --output=slurm-%j.out --wrap="headcal means --merge --out means.st means-*.st")"
sbatch --parsable --dependency="afterok:$merged" --array="0-$((n - 1))" "$here/headcal-array.sbatch" "$@" \
    --means means.st
