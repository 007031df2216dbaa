import Foundation
import Glibc

/// Where one `train` invocation's wall time went: start-up (from the process's start to the first step:
/// reading the corpora, building the model, restoring a checkpoint), the training steps, the
/// validations, the checkpoints written (latest.safetensors and the best model), and the final test.
/// Printed at the end of a run and recorded in metrics.jsonl as a "time" record.
public struct RunTimeBudget: Sendable, Equatable {
    /// nil when the caller does not know when its process started (the library called from tests).
    public var startup: Double?
    public var steps = 0.0
    public var validation = 0.0
    public var checkpoints = 0.0
    public var test = 0.0

    public init(startup: Double? = nil) { self.startup = startup }

    public var total: Double { (startup ?? 0) + steps + validation + checkpoints + test }

    /// "time 93.1s: start-up 2.1s, steps 80.0s (85.9%), validation 8.5s, checkpoints 0.5s, test 2.0s"
    public var line: String {
        func s(_ x: Double) -> String { Format.fixed(x, 1) + "s" }
        var parts = startup.map { ["start-up \(s($0))"] } ?? []
        parts.append("steps \(s(steps)) (\(Format.fixed(100 * steps / max(total, 1e-9), 1))%)")
        parts += ["validation \(s(validation))", "checkpoints \(s(checkpoints))", "test \(s(test))"]
        return "time \(s(total)): " + parts.joined(separator: ", ")
    }

    /// The metrics.jsonl fields.
    var record: [(String, Any)] {
        var r: [(String, Any)] = [("type", "time")]
        if let startup { r.append(("startup_s", startup)) }
        return r + [("steps_s", steps), ("validation_s", validation), ("checkpoints_s", checkpoints), ("test_s", test), ("total_s", total)]
    }

    /// Seconds since this process started (its fork: a re-exec keeps it), from /proc; nil elsewhere.
    public static func secondsSinceProcessStart() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
              let up = try? String(contentsOfFile: "/proc/uptime", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // after the command name: field 3 (state) onwards; field 22 is the start time in clock ticks
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, let ticks = Double(fields[19]), let uptime = up.split(separator: " ").first.flatMap({ Double($0) }) else { return nil }
        return max(0, uptime - ticks / Double(sysconf(Int32(_SC_CLK_TCK))))
    }
}
