import ArgumentParser
import DDPLM

/// Progress, checkpoints and the non-finite policy (may change on resume).
struct LoggingOptions: ConfigOptionGroup {
    static var defaults: RunConfig.LoggingConfig { ConfigDefaults.logging }
    static func check(_ root: RunConfig.LoggingConfig) throws { try root.validate() }

    @Option(help: "Progress line and metrics record every N steps (default \(ConfigDefaults.logging.logEvery)).") var logEvery: Int?
    @Option(help: "Write latest.safetensors every N steps; 0 = only at the end (default \(ConfigDefaults.logging.saveEvery)).") var saveEvery: Int?
    @Flag(help: "Skip a step whose loss or gradient is NaN/Inf instead of stopping.") var skipNonfinite = false
    @Flag(help: "Also write the metrics as TensorBoard scalars in OUT/tensorboard (view: tensorboard --logdir OUT).") var tensorboard = false
    @Option(help: "Verify every N steps that all ranks hold identical weights (debug; 0 = off).") var checkEvery: Int = 0
    @Option(help: .hidden) var debugNanAtStep: Int?

    var bindings: [ConfigBinding<RunConfig.LoggingConfig>] {
        [.option("--log-every", logEvery, \.logEvery), .option("--save-every", saveEvery, \.saveEvery),
         .flag("--skip-nonfinite", skipNonfinite, \.skipNonFinite), .flag("--tensorboard", tensorboard, \.tensorboard)]
    }

    func checkOwnOptions() throws {
        guard checkEvery >= 0 else { throw DDPLMError("--check-every must not be negative (got \(checkEvery))") }
    }
}
