#!/usr/bin/env bash
# The main job on an embedded default: builds `hybrid`, writes a seeded synthetic DeepSeek-shaped model
# (deepseek2 architecture: MLA attention, sigmoid routing with selection bias, routed + shared experts, q4_k),
# makes sure this machine has a hardware profile (quick tune if none matches), prints the placement plan
# and generates text with it.
set -euo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
dotnet build src/HybridEngine.Cli -c Release -v quiet -nologo
hybrid() { src/HybridEngine.Cli/bin/Release/net10.0/hybrid "$@"; }
mkdir -p out/demo
model=out/demo/deepseek2-tiny-q4_k.gguf
echo "== synth: a tiny DeepSeek-shaped model (seed 1, skewed expert popularity)"
hybrid synth --arch deepseek2 --preset tiny --type q4_k --seed 1 --skew 0.5 --out "$model"
echo "== inspect"
hybrid inspect -m "$model"
echo "== tune: this machine's hardware profile"
if hybrid profile show >/dev/null 2>&1; then
  echo "a profile for this machine ($(hybrid profile fingerprint)) exists; 'hybrid tune' re-measures"
else
  hybrid tune --quick
fi
echo "== plan"
hybrid plan -m "$model"
echo "== run"
hybrid run -m "$model" -p "hello world, the model" -n 32 --seed 1 --stats
