import ArgumentParser
import DDPLM

/// `--matmul-precision highest|medium` (every compute subcommand).
extension MatmulPrecision: ExpressibleByArgument {}
