import ArgumentParser
import DDPLM

/// The optimisation (fixed for a run).
struct TrainingOptions: ConfigOptionGroup {
    static var defaults: RunConfig.TrainingConfig { ConfigDefaults.training }
    static func check(_ root: RunConfig.TrainingConfig) throws { try root.validate() }

    @Option(help: "Adam learning rate (default \(ConfigDefaults.training.lr)).") var lr: Double?
    @Option(help: "Learning-rate factor when a validation does not improve (default \(ConfigDefaults.training.lrDecay)).") var lrDecay: Double?
    @Option(help: "Global gradient-norm clip (default \(ConfigDefaults.training.clip)).") var clip: Double?
    @Option(help: "Validate every N steps, and at each epoch's end (default \(ConfigDefaults.training.evalEvery)).") var evalEvery: Int?
    @Option(help: "Seed for initialisation and dropout (default \(ConfigDefaults.training.seed)).") var seed: UInt64?
    @Option(help: "Rows per chunk of the fused decoder/softmax (default \(ConfigDefaults.training.chunkRows): 160 MB of logits at V = 50002).") var chunkRows: Int?

    @Option(help: ArgumentHelp("Gradient reduce-scatter wire format: fp32 or bf16 (default \(ConfigDefaults.training.gradientWire.rawValue)).",
                               discussion: "bf16 halves the reduce-scatter's bytes (fp32 accumulation; weights, norm and Adam stay fp32), but rounds every partial sum to 8 significant bits (0.4%) on its way: N ranks no longer train exactly what one process trains. No effect on one rank.")) var gradWire: GradientWire?

    @Flag(help: ArgumentHelp("On N ranks, split the decoder by vocabulary rows instead of exchanging its gradient and weights.",
                             discussion: "Each rank computes the logits of V/N rows for every rank's tokens and updates those rows itself (Megatron's vocab-parallel cross-entropy): the hidden states, the targets, three numbers per token and rank, and the hidden states' gradient travel instead of the decoder's gradient and weights (2 × V × H floats per step). The logits are held N × --chunk-rows tokens at a time (V/N wide: the same memory as without it). With --tie-weights the embedding table is split with the decoder, and each lookup goes to its row's owner (Megatron's VocabParallelEmbedding). Same model and loss; only the float summation order differs. No effect on one rank.")) var vocabParallel = false

    var bindings: [ConfigBinding<RunConfig.TrainingConfig>] {
        [.option("--lr", lr, \.lr), .option("--lr-decay", lrDecay, \.lrDecay), .option("--clip", clip, \.clip),
         .option("--eval-every", evalEvery, \.evalEvery), .option("--seed", seed, \.seed), .option("--chunk-rows", chunkRows, \.chunkRows),
         .option("--grad-wire", gradWire, \.gradientWire), .flag("--vocab-parallel", vocabParallel, \.vocabParallel)]
    }
}
