import ArgumentParser
import DDPLM

/// `--grad-wire fp32|bf16` (any case).
extension GradientWire: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
