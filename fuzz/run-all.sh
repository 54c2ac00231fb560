#!/usr/bin/env bash
# Runs every fuzz target in turn (never two at once: the machine has 2 shared cores), each
# for FUZZ_SECONDS (default 600), and records each run in fuzz/runs/ (git-ignored):
# <target>.log is libFuzzer's output; summary.tsv gets one line per run:
#   target  command  seconds  execs  corpus_entries  corpus_bytes  result
#
#   bash fuzz/run-all.sh                      # all targets, 10 minutes each
#   FUZZ_SECONDS=30 bash fuzz/run-all.sh sse_parser chat_stream
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`) and a nightly toolchain (`+nightly`; for a
# stable one, RUSTC_BOOTSTRAP=1 and FUZZ_TOOLCHAIN=stable). Crashes land in
# fuzz/artifacts/<target>/; `cargo +nightly fuzz run <target> <file>` replays one.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
SECS="${FUZZ_SECONDS:-600}"
TC="+${FUZZ_TOOLCHAIN:-nightly}"
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=(sse_parser chat_stream messages_stream chat_request messages_request responses_request config_load yaml_aliases)
mkdir -p fuzz/runs
[ -d fuzz/corpus ] || bash fuzz/seed.sh
nice -n 10 cargo "$TC" fuzz build -O --fuzz-dir fuzz >/dev/null
for t in "${TARGETS[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  cmd="cargo $TC fuzz run -O --fuzz-dir fuzz $t -- -max_total_time=$SECS -timeout=10 -print_final_stats=1"
  echo "==> $(date -u +%FT%TZ) $cmd"
  start=$SECONDS
  nice -n 10 $cmd > "fuzz/runs/$t.log" 2>&1
  rc=$?
  secs=$((SECONDS - start))
  execs="$(grep -o 'stat::number_of_executed_units: *[0-9]*' "fuzz/runs/$t.log" | grep -o '[0-9]*$' | tail -n1)"
  corp="$(grep -o 'corp: [0-9]*/[0-9]*[a-zA-Z]*' "fuzz/runs/$t.log" | tail -n1 | sed 's/corp: //')"
  result=clean
  [ "$rc" -ne 0 ] && result="FAILED rc=$rc ($(grep -m1 -o 'ERROR: libFuzzer: [a-z-]*\|panicked at [^ ]*' "fuzz/runs/$t.log" || echo see log))"
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$t" "$cmd" "$secs" "${execs:-?}" "${corp:-?}" "$result" | tee -a fuzz/runs/summary.tsv
done
