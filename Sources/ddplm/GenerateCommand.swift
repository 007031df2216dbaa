import ArgumentParser
import DDPLM
import Foundation

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sample text from a saved model.",
        discussion: """
        Feeds --prompt (lower-cased; unknown words become <unk>) or a random start word, then draws each \
        next word from softmax(logits / --temperature), or takes the most likely word with --greedy. \
        Output: the prompt followed by the generated words, 20 per line.
        """
    )

    @Option(help: "Run directory (config.json, vocab.txt, model.safetensors).") var checkpoint: String
    @Option(help: "Words to generate.") var words: Int = 100
    @Option(help: "Softmax temperature (> 0); lower is more conservative.") var temperature: Float = 1.0
    @Flag(help: "Always take the most likely next word.") var greedy = false
    @Option(help: "Text to condition on.") var prompt: String?
    @Option(help: "Random seed for sampling.") var seed: UInt64 = 1111
    @OptionGroup var savedWeights: SavedWeightsOptions
    @Flag(help: "Also emit <unk> (by default the unknown-word token is never generated).") var allowUnk = false
    @OptionGroup var runtime: RuntimeOptions

    func validate() throws {
        guard words >= 0 else { throw DDPLMError("--words must not be negative (got \(words))") }
        guard temperature > 0, temperature.isFinite else { throw DDPLMError("--temperature must be positive (got \(temperature))") }
    }

    func run() throws {
        Runtime.guarded { _ in
            guard Runtime.launch.rank == 0 else { return }  // under mpirun, one rank writes the text
            // one word at a time on one column: one thread unless told otherwise
            let told = runtime.threads != nil || ProcessInfo.processInfo.environment["OPENBLAS_NUM_THREADS"] != nil
            _ = try Runtime.configureThreads(told ? runtime.threads : 1)
            try Runtime.configurePrecision(runtime.matmulPrecision, run: checkpoint)
            let (_, vocab, model, note) = try Checkpoint.open(checkpoint, weights: savedWeights.weights, batch: 1, maxT: 1)
            if let note { Runtime.note(note) }
            let promptWords = (prompt ?? "").lowercased().split(whereSeparator: { $0.isWhitespace }).map(String.init)
            let gen = Generator(model: model, vocab: vocab)
            let out = gen.generate(words: words, prompt: promptWords, temperature: temperature, greedy: greedy, seed: seed, allowUnknown: allowUnk)
            let all = promptWords + out
            var lines: [String] = []
            var i = 0
            while i < all.count {
                lines.append(all[i..<min(i + 20, all.count)].joined(separator: " "))
                i += 20
            }
            print(lines.joined(separator: "\n"))
        }
    }
}
