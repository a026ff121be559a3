#!/usr/bin/env bash
# Builds and runs every test, then prints the plain summary line "N passed, N failed[, N skipped]" from the TRX results.
set -uo pipefail
cd "$(dirname "$0")"
rm -rf TestResults
dotnet test tests/HybridEngine.Tests/HybridEngine.Tests.csproj -c Release \
  --logger "trx;LogFileName=results.trx" --results-directory TestResults "$@"
status=$?
trx=TestResults/results.trx
if [[ ! -f $trx ]]; then
  echo "no test results were written"
  echo "0 passed, 1 failed"
  exit 1
fi
counters=$(grep -o '<Counters [^>]*>' "$trx")
get() { sed -n "s/.* $1=\"\([0-9]*\)\".*/\1/p" <<<"$counters"; }
total=$(get total); passed=$(get passed); failed=$(get failed)
skipped=$(( total - $(get executed) ))
failed=$(( failed + $(get error) + $(get timeout) + $(get aborted) ))
if [[ $status -ne 0 && $failed -eq 0 ]]; then failed=1; fi
if (( skipped > 0 )); then echo "$passed passed, $failed failed, $skipped skipped"; else echo "$passed passed, $failed failed"; fi
exit $(( failed > 0 ? 1 : 0 ))
