import ArgumentParser
import DDPLM

/// `--weights best|latest`, shared by the commands that read a saved run (`eval`, `generate`,
/// `classify eval`, `classify predict`).
struct SavedWeightsOptions: ParsableArguments {
    @Option(help: "best (model.safetensors) or latest (latest.safetensors). Default: best, or latest with a note while no validation has improved yet.")
    var weights: SavedWeights?
}
