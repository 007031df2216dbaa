import ArgumentParser
import DDPLM

/// Where a training run lives, and whether it starts, continues or replaces one (`train` and
/// `classify train`).
struct RunDirectoryOptions: ParsableArguments {
    @Option(help: "Run directory for config.json, vocab.txt, model.safetensors, latest.safetensors, metrics.jsonl (default: runs/<date-time>).")
    var out: String?
    @Option(help: ArgumentHelp("Continue the run in DIR from its latest.safetensors; 'auto': continue --out if it holds a checkpoint, else start it.", valueName: "DIR|auto"))
    var resume: String?
    @Flag(help: "Replace an existing run in --out.") var overwrite = false

    func validate() throws {
        if resume != nil && overwrite { throw DDPLMError("--overwrite cannot be combined with --resume") }
        if resume == "auto" && out == nil { throw DDPLMError("--resume auto needs --out DIR (the run to start or continue)") }
        if let r = resume, r != "auto", let o = out, o != r {
            throw DDPLMError("--out and --resume name different directories; --resume continues in place")
        }
    }
}
