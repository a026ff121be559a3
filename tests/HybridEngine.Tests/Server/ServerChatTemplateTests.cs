using System.CommandLine;
using System.Text.Json;
using HybridEngine.Cli;
using HybridEngine.Cli.Commands;
using HybridEngine.Gguf;
using HybridEngine.Models.Synthetic;
using HybridEngine.Quantization;
using HybridEngine.Tokenization;
using Xunit;

namespace HybridEngine.Tests.Server;

/// <summary>A model whose GGUF names a known chat template is prompted with that template, not with the ChatML fallback.</summary>
public sealed class ServerChatTemplateTests : IDisposable
{
    private readonly string _dir = TestPaths.NewScratchDirectory();

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task ChatUsesTheDeepseekTemplateNamedInTheFile()
    {
        string plain = Path.Combine(_dir, "plain.gguf");
        SyntheticWriter.Write(SyntheticModels.Spec("qwen3moe", "tiny"), new SyntheticOptions(GgmlType.F32, Seed: 7), plain);
        string model = Path.Combine(_dir, "templated.gguf");
        // The distinctive parts of DeepSeek-V3's Jinja template; the vocabulary has ChatML markers, so the fallback would be ChatML.
        CopyWithChatTemplate(plain, model, "{{ bos_token }}{% for m in messages %}{% if m.role == 'user' %}<｜User｜>{{ m.content }}{% else %}<｜Assistant｜>{{ m.content }}<｜end▁of▁sentence｜>{% endif %}{% endfor %}<｜Assistant｜>");

        await using var server = await TestServer.StartAsync(o => o with { ModelPath = model });
        var (status, body) = await server.PostAsync("v1/chat/completions",
            """{"messages":[{"role":"user","content":"hello there"}],"max_tokens":6,"temperature":0}""");
        Assert.Equal(200, status);
        string text = body.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!;

        string prompt = new ChatTemplate(ChatFormat.DeepseekV3).Render([new ChatMessage("user", "hello there")], addAssistant: true);
        Assert.Contains("<｜User｜>hello there<｜Assistant｜>", prompt);
        string printed = HybridRun(model, "-p", prompt, "-n", "6", "--temp", "0");
        Assert.EndsWith(text + Environment.NewLine, printed);
        Assert.StartsWith(prompt, printed);
    }

    private static void CopyWithChatTemplate(string source, string destination, string template)
    {
        using var file = GgufFile.Open(source);
        var writer = new GgufWriter(file.Alignment);
        foreach (string key in file.Keys)
        {
            if (key == "general.alignment") continue;
            writer.Add(key, file.Metadata[key]);
        }
        writer.Add("tokenizer.chat_template", GgufValue.String(template));
        foreach (var t in file.Tensors)
        {
            byte[] data = file.GetTensorData(t).ToArray();
            writer.AddTensor(t.Name, t.Type, t.Shape, data);
        }
        writer.WriteTo(destination);
    }

    private static string HybridRun(string model, params string[] args)
    {
        var stdout = new StringWriter();
        var stderr = new StringWriter();
        var root = new RootCommand("test");
        root.Subcommands.Add(RunCommand.Create(stdout, stderr));
        int code = CliRunner.Run(root, ["run", "-m", model, "-t", "1", .. args], stderr);
        Assert.True(code == 0, stderr.ToString());
        return stdout.ToString();
    }
}
