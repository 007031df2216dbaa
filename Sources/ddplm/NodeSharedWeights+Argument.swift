import ArgumentParser
import DDPLM

/// `--shared-weights auto|off` (any case).
extension NodeSharedWeights: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
