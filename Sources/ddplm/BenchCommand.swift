import ArgumentParser
import DDPLM
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmark (placeholder).")
    func run() throws { Runtime.fail("bench is not implemented yet") }
}
