import ArgumentParser
import DDPLM

/// `--weights best|latest` of the commands that read a saved run.
extension SavedWeights: ExpressibleByArgument {}
