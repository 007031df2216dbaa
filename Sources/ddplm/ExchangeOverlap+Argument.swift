import ArgumentParser
import DDPLM

/// `--overlap auto|on|off` (any case).
extension ExchangeOverlap: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: argument.lowercased()) }
}
