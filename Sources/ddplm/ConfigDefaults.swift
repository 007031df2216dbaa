import DDPLM

/// The library's defaults, read once for the options' help texts and `validate()` (the values live in
/// the config types: `ModelConfig.init`, `RunConfig.DataConfig` and the other sections).
enum ConfigDefaults {
    static let model = ModelConfig(vocabSize: 3)
    static let data = RunConfig.DataConfig(train: "", valid: "", test: "")
    static let training = RunConfig.TrainingConfig()
    static let stop = RunConfig.StopConfig()
    static let logging = RunConfig.LoggingConfig()
}
