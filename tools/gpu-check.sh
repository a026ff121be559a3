#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU (a few minutes):
#   1. builds the solution (Release),
#   2. runs the GPU kernel tests on the CUDA accelerator (HYBRID_GPU_TESTS=cuda makes tests/HybridEngine.Tests/Gpu
#      target the first CUDA device instead of ILGPU's CPU accelerator; no CUDA device is then a failure),
#   3. prints quantized matrix-vector GB/s per weight type against the card's memory bandwidth, then a 128-token
#      prefill product per type with the per-token and the tiled matrix kernel (effective weight GB/s), then one-token
#      attention over a full 4096-position device KV cache (GQA and absorbed MLA) in µs and GB/s (tools/GpuBench),
#   4. synthesizes the `medium` deepseek2 model at q4_k in a temporary folder and runs `hybrid bench` (pp 128, tg 32,
#      one run) with the plan's GPU placement and with --cpu-only, printing both lines. The first bench tunes this
#      machine once (quick tune, GPU included) into that folder.
# Usage: tools/gpu-check.sh [bench MiB per matrix, default 256]
# BENCH_ONLY=1 runs only step 4 (after building the CLI); BENCH_PRESET=small benches a smaller preset (a CPU-only try).
# CARD_GBPS=4800 overrides the bandwidth derived from the driver's memory clock and bus width.
# PREBUILT=DIR runs without the SDK, from builds made elsewhere (only the .NET runtime is needed on PATH): DIR/tests
#   (tests/HybridEngine.Tests output), DIR/cli (the CLI's output), DIR/gpubench (tools/GpuBench's output) and
#   DIR/xunit (xunit.runner.console 2.4.1, tools/netcoreapp2.0). The tests then run through that console runner.
# Exit status: non-zero when the build, the tests or the bench fail.
set -euo pipefail
cd "$(dirname "$0")/.."

MIB="${1:-256}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

if ! command -v dotnet >/dev/null; then
  echo "gpu-check: the .NET 10 SDK (dotnet) is not on PATH" >&2
  exit 2
fi
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=name,memory.total,clocks.max.memory,driver_version --format=csv
else
  echo "gpu-check: nvidia-smi not found; CUDA discovery below will say whether a device is usable"
fi

HYBRID=src/HybridEngine.Cli/bin/Release/net10.0/hybrid.dll
GPUBENCH=tools/GpuBench/bin/Release/net10.0/GpuBench.dll
if [[ -n "${PREBUILT:-}" ]]; then
  HYBRID="$PREBUILT/cli/hybrid.dll"
  GPUBENCH="$PREBUILT/gpubench/GpuBench.dll"
fi
PRESET="${BENCH_PRESET:-medium}"

bench_medium() {
  echo "== hybrid bench on the ${PRESET} deepseek2 preset at q4_k: GPU placement against --cpu-only (pp 128, tg 32, 1 run)"
  local work model gpu cpu
  work="$(mktemp -d)"
  trap 'rm -rf "$work"' RETURN
  model="$work/deepseek2-${PRESET}-q4_k.gguf"
  # Profiles go to the temporary folder: nothing is left in the user's profile folder.
  export HYBRID_Paths__UserProfileDirectory="$work/profiles" HYBRID_Paths__ProfileDirectory="$work/profiles"
  timeout 240 dotnet "$HYBRID" synth --arch deepseek2 --preset "$PRESET" --type q4_k --skew 1 --seed 1 --out "$model"
  gpu="$(timeout 240 dotnet "$HYBRID" bench -m "$model" --pp 128 --tg 32 -r 1)"
  cpu="$(timeout 180 dotnet "$HYBRID" bench -m "$model" --pp 128 --tg 32 -r 1 --cpu-only)"
  echo "gpu placement: $gpu"
  echo "cpu-only:      $cpu"
}

if [[ "${BENCH_ONLY:-0}" == 1 ]]; then
  [[ -n "${PREBUILT:-}" ]] || timeout 300 dotnet build src/HybridEngine.Cli/HybridEngine.Cli.csproj -c Release -nologo -v q
  bench_medium
  exit 0
fi

if [[ -z "${PREBUILT:-}" ]]; then
echo "== build"
# Build only what the check needs (the GPU project, its tests and so the CLI, the bench): not the benchmarks.
timeout 300 dotnet build tests/HybridEngine.Tests/HybridEngine.Tests.csproj -c Release -nologo -v q
timeout 120 dotnet build tools/GpuBench/GpuBench.csproj -c Release -nologo -v q
fi

echo "== GPU kernel tests on CUDA"
if [[ -n "${PREBUILT:-}" ]]; then
  HYBRID_GPU_TESTS=cuda DOTNET_ROLL_FORWARD=Major timeout 300 dotnet "$PREBUILT/xunit/xunit.console.dll" \
    "$PREBUILT/tests/HybridEngine.Tests.dll" -namespace HybridEngine.Tests.Gpu -parallel none -verbose -nocolor
else
  HYBRID_GPU_TESTS=cuda timeout 300 dotnet test tests/HybridEngine.Tests/HybridEngine.Tests.csproj -c Release --no-build \
    --filter "FullyQualifiedName~HybridEngine.Tests.Gpu" --logger "console;verbosity=normal"
fi

echo "== quantized matvec bandwidth (${MIB} MiB of weights per type, 1 s each)"
timeout 240 dotnet "$GPUBENCH" --mib "$MIB" --seconds 1

bench_medium
