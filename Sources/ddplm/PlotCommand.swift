import ArgumentParser
import DDPLM
import Foundation

struct PlotCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "plot",
        abstract: "Draw runs' learning curves to an SVG file.",
        discussion: """
        For each run directory: training and validation perplexity against tokens seen (left panel) and \
        against training time (right), on a log-scale axis, with a triangle where the learning rate was \
        halved, and a legend naming each run, its model and its ranks. Several runs share one plot (1 rank \
        vs 4, LSTM vs GRU). Reads metrics.jsonl only, so it works on a run that is still training.

        Example: ddplm plot runs/lstm runs/gru --out curves.svg
        """
    )

    @Argument(help: "Run directories.") var runs: [String]
    @Option(help: "The SVG file to write.") var out: String
    @Option(help: "Title (default: a description of what is drawn).") var title: String?

    func validate() throws {
        if runs.isEmpty { throw DDPLMError("name at least one run directory") }
        if !out.hasSuffix(".svg") { throw DDPLMError("--out must name an .svg file (got '\(out)')") }
    }

    func run() throws {
        Runtime.guarded { _ in
            let curves = try runs.map { try RunCurves.load($0) }
            try AtomicFile.write(LearningCurvePlot.svg(curves, title: title), to: out)
            print("wrote \(out): \(curves.map { "\($0.name) (\($0.train.count) train, \($0.valid.count) valid points)" }.joined(separator: ", "))")
        }
    }
}
