#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU (a few minutes):
#   1. builds the solution (Release),
#   2. runs the GPU kernel tests on the CUDA accelerator (HYBRID_GPU_TESTS=cuda makes tests/HybridEngine.Tests/Gpu
#      target the first CUDA device instead of ILGPU's CPU accelerator; no CUDA device is then a failure),
#   3. prints quantized matrix-vector GB/s per weight type against the card's memory bandwidth, then one-token
#      attention over a full 4096-position device KV cache (GQA and absorbed MLA) in µs and GB/s (tools/GpuBench).
# Usage: tools/gpu-check.sh [bench MiB per matrix, default 256]
# CARD_GBPS=4800 overrides the bandwidth derived from the driver's memory clock and bus width.
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

echo "== build"
# Build only what the check needs (the GPU project, its tests, the bench): not the CLI or benchmarks.
timeout 300 dotnet build tests/HybridEngine.Tests/HybridEngine.Tests.csproj -c Release -nologo -v q
timeout 120 dotnet build tools/GpuBench/GpuBench.csproj -c Release -nologo -v q

echo "== GPU kernel tests on CUDA"
HYBRID_GPU_TESTS=cuda timeout 300 dotnet test tests/HybridEngine.Tests/HybridEngine.Tests.csproj -c Release --no-build \
  --filter "FullyQualifiedName~HybridEngine.Tests.Gpu" --logger "console;verbosity=normal"

echo "== quantized matvec bandwidth (${MIB} MiB of weights per type, 1 s each)"
timeout 240 dotnet tools/GpuBench/bin/Release/net10.0/GpuBench.dll --mib "$MIB" --seconds 1
