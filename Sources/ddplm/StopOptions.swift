import ArgumentParser
import DDPLM

/// When to stop (may change on resume).
struct StopOptions: ConfigOptionGroup {
    static var defaults: RunConfig.StopConfig { ConfigDefaults.stop }
    static func check(_ root: RunConfig.StopConfig) throws { try root.validate() }

    @Option(help: "Epochs over the training corpus (default \(ConfigDefaults.stop.epochs)).") var epochs: Int?
    @Option(help: "Stop after this many steps in total (default \(ConfigDefaults.stop.maxSteps) = no limit).") var maxSteps: Int?
    @Option(help: "Stop after this many minutes of this invocation (default \(ConfigDefaults.stop.maxMinutes) = no limit).") var maxMinutes: Double?

    var bindings: [ConfigBinding<RunConfig.StopConfig>] {
        [.option("--epochs", epochs, \.epochs), .option("--max-steps", maxSteps, \.maxSteps), .option("--max-minutes", maxMinutes, \.maxMinutes)]
    }
}
