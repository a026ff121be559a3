using HybridEngine.Models;
using Xunit;

namespace HybridEngine.Tests.Models;

/// <summary>Tensor names as llama.cpp writes them for llama, Mixtral, Qwen-MoE and DeepSeek2 files (SPEC 3.2).</summary>
public class TensorClassifierTests
{
    [Theory]
    [InlineData("token_embd.weight", TensorClass.Embeddings)]
    [InlineData("output.weight", TensorClass.Output)]
    [InlineData("output_norm.weight", TensorClass.Norms)]
    [InlineData("token_embd_norm.weight", TensorClass.Norms)]
    [InlineData("blk.0.attn_norm.weight", TensorClass.Norms)]
    [InlineData("blk.12.ffn_norm.weight", TensorClass.Norms)]
    [InlineData("blk.3.attn_q_a_norm.weight", TensorClass.Norms)]
    [InlineData("blk.3.attn_kv_a_norm.weight", TensorClass.Norms)]
    [InlineData("blk.0.attn_q.weight", TensorClass.Attention)]
    [InlineData("blk.0.attn_k.bias", TensorClass.Attention)]
    [InlineData("blk.60.attn_q_a.weight", TensorClass.Attention)]
    [InlineData("blk.60.attn_q_b.weight", TensorClass.Attention)]
    [InlineData("blk.60.attn_kv_a_mqa.weight", TensorClass.Attention)]
    [InlineData("blk.60.attn_k_b.weight", TensorClass.Attention)]
    [InlineData("blk.60.attn_v_b.weight", TensorClass.Attention)]
    [InlineData("blk.60.attn_output.weight", TensorClass.Attention)]
    [InlineData("blk.0.ffn_gate.weight", TensorClass.DenseFfn)]
    [InlineData("blk.0.ffn_up.weight", TensorClass.DenseFfn)]
    [InlineData("blk.2.ffn_down.weight", TensorClass.DenseFfn)]
    [InlineData("blk.5.ffn_gate_exps.weight", TensorClass.RoutedExperts)]
    [InlineData("blk.5.ffn_up_exps.weight", TensorClass.RoutedExperts)]
    [InlineData("blk.5.ffn_down_exps.weight", TensorClass.RoutedExperts)]
    [InlineData("blk.5.ffn_gate_up_exps.weight", TensorClass.RoutedExperts)]
    [InlineData("blk.5.ffn_gate_shexp.weight", TensorClass.SharedExperts)]
    [InlineData("blk.5.ffn_up_shexp.weight", TensorClass.SharedExperts)]
    [InlineData("blk.5.ffn_down_shexp.weight", TensorClass.SharedExperts)]
    [InlineData("blk.5.ffn_gate_inp_shexp.weight", TensorClass.SharedExperts)]
    [InlineData("blk.5.ffn_gate_inp.weight", TensorClass.Router)]
    [InlineData("blk.5.exp_probs_b.bias", TensorClass.Router)]
    [InlineData("rope_freqs.weight", TensorClass.Other)]
    [InlineData("something_else", TensorClass.Other)]
    public void ClassifiesLlamaCppNames(string name, TensorClass expected)
    {
        Assert.Equal(expected, TensorClassifier.Classify(name));
    }

    [Theory]
    [InlineData("blk.0.attn_q.weight", true, 0)]
    [InlineData("blk.60.ffn_down_exps.weight", true, 60)]
    [InlineData("token_embd.weight", false, -1)]
    [InlineData("blk.x.attn_q.weight", false, -1)]
    [InlineData("blk.-1.attn_q.weight", false, -1)]
    [InlineData("blk.7", false, -1)]
    public void FindsTheLayerOfBlockTensors(string name, bool hasLayer, int layer)
    {
        Assert.Equal(hasLayer, TensorClassifier.TryGetLayer(name, out int found));
        if (hasLayer) Assert.Equal(layer, found);
    }
}
