#!/usr/bin/env bash
# The main job on an embedded default: builds `hybrid`, writes a seeded synthetic DeepSeek-shaped model
# (deepseek2 architecture, MLA, routed + shared experts, q4_k) and runs the engine's verbs on it.
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
