using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using HybridEngine.Gguf;
using HybridEngine.Tokenization;

namespace HybridEngine.Cli.Commands;

/// <summary>
/// <c>hybrid tokenize -m MODEL (-p TEXT | -f FILE) [--ids-only] [--json] [--no-bos] [--no-parse-special]</c> (CLI.md):
/// the token ids and pieces of a text. Reads only the tokenizer metadata, so vocabulary-only GGUF files work. Like
/// llama.cpp's llama-tokenize it adds BOS/EOS as the vocabulary asks and parses special-token text by default.
/// </summary>
public static class TokenizeCommand
{
    // Pieces are shown as written ("<s>", not "\u003Cs\u003E"); the document is printed, not embedded in HTML.
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };
    private static readonly UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    /// <param name="output">Where the result goes; standard output when null.</param>
    /// <param name="error">Where load warnings go; standard error when null.</param>
    public static Command Create(TextWriter? output = null, TextWriter? error = null)
    {
        var model = new Option<string>("--model", "-m") { Description = "GGUF file (a vocabulary-only file is enough)", Required = true };
        var prompt = new Option<string?>("--prompt", "-p") { Description = "text to tokenize" };
        var file = new Option<string?>("--file", "-f") { Description = "UTF-8 text file to tokenize" };
        var idsOnly = new Option<bool>("--ids-only") { Description = "print only the ids, comma-separated (the form --tokens takes)" };
        var json = new Option<bool>("--json") { Description = "print one JSON document" };
        var noBos = new Option<bool>("--no-bos") { Description = "do not add the BOS/EOS tokens the vocabulary asks for" };
        var noParseSpecial = new Option<bool>("--no-parse-special") { Description = "treat special-token text such as <|im_start|> as plain text" };
        var command = new Command("tokenize", "The token ids (and pieces) of a text.");
        foreach (var option in new Option[] { model, prompt, file, idsOnly, json, noBos, noParseSpecial }) command.Options.Add(option);
        command.SetAction(parse =>
        {
            string path = parse.GetValue(model)!;
            if (string.IsNullOrWhiteSpace(path)) throw new UsageException("--model needs a GGUF file path");
            string? promptText = parse.GetValue(prompt);
            string? filePath = parse.GetValue(file);
            if ((promptText == null) == (filePath == null)) throw new UsageException("give exactly one of -p TEXT or -f FILE");
            string text = promptText ?? File.ReadAllText(filePath!);

            Tokenizer tokenizer;
            using (var gguf = GgufFile.Open(path)) tokenizer = Tokenizer.FromGguf(gguf);
            var err = error ?? Console.Error;
            foreach (string warning in tokenizer.Vocabulary.Warnings) err.WriteLine($"warning: {warning}");

            int[] ids = tokenizer.Encode(text, addSpecial: !parse.GetValue(noBos), parseSpecial: !parse.GetValue(noParseSpecial));
            var writer = output ?? Console.Out;
            if (parse.GetValue(json)) writer.WriteLine(ToJson(path, tokenizer, ids, parse.GetValue(idsOnly)).ToJsonString(Indented));
            else if (parse.GetValue(idsOnly)) writer.WriteLine(string.Join(",", ids));
            else WriteTable(writer, tokenizer, ids);
            writer.Flush();
            return 0;
        });
        return command;
    }

    private static JsonObject ToJson(string path, Tokenizer tokenizer, int[] ids, bool idsOnly)
    {
        var result = new JsonObject
        {
            ["model"] = path,
            ["tokenizer"] = tokenizer.Vocabulary.Model,
            ["preTokenizer"] = tokenizer.Vocabulary.PreTokenizer,
            ["vocabSize"] = tokenizer.Vocabulary.Count,
            ["count"] = ids.Length,
            ["ids"] = new JsonArray(ids.Select(id => (JsonNode)id).ToArray()),
        };
        if (!idsOnly)
        {
            result["tokens"] = new JsonArray(ids.Select(id => (JsonNode)TokenJson(tokenizer, id)).ToArray());
        }
        return result;
    }

    /// <summary>id, piece and vocabulary text; a piece that is part of a UTF-8 character also gets its bytes in hex.</summary>
    private static JsonObject TokenJson(Tokenizer tokenizer, int id)
    {
        var bytes = tokenizer.TokenToPieceBytes(id);
        var token = new JsonObject { ["id"] = id, ["piece"] = tokenizer.TokenToPiece(id), ["text"] = tokenizer.Vocabulary.GetText(id) };
        if (!IsWholeUtf8(bytes)) token["bytes"] = Convert.ToHexString(bytes);
        return token;
    }

    private static bool IsWholeUtf8(ReadOnlySpan<byte> bytes) => System.Text.Unicode.Utf8.IsValid(bytes);

    /// <summary>One line per token, <c>id -> 'piece'</c> as llama-tokenize prints, with control characters escaped.</summary>
    private static void WriteTable(TextWriter w, Tokenizer tokenizer, int[] ids)
    {
        int width = ids.Length == 0 ? 1 : ids.Max().ToString(CultureInfo.InvariantCulture).Length;
        foreach (int id in ids)
        {
            w.WriteLine($"{id.ToString(CultureInfo.InvariantCulture).PadLeft(width)} -> '{Escape(tokenizer.TokenToPieceBytes(id))}'");
        }
    }

    /// <summary>The piece as text; control characters as \n, \t, \xNN, and bytes that are not whole UTF-8 characters as \xNN.</summary>
    public static string Escape(ReadOnlySpan<byte> piece)
    {
        string text;
        try
        {
            text = StrictUtf8.GetString(piece);
        }
        catch (DecoderFallbackException)
        {
            var sb = new StringBuilder();
            foreach (byte b in piece) sb.Append(b is >= 0x20 and < 0x7F && b != '\\' ? ((char)b).ToString() : $"\\x{b:X2}");
            return sb.ToString();
        }
        var escaped = new StringBuilder(text.Length);
        foreach (char c in text)
        {
            escaped.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                '\\' => "\\\\",
                < ' ' or '\x7F' => $"\\x{(int)c:X2}",
                _ => c.ToString(),
            });
        }
        return escaped.ToString();
    }
}
