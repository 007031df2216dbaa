import ArgumentParser
import DDPLM
import Foundation

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare two checkpoints tensor by tensor (e.g. a 1-rank and an N-rank run).",
        discussion: """
        Each argument is a run directory (its model.safetensors is used) or a .safetensors file. Prints the \
        largest absolute difference per tensor and exits non-zero if any exceeds --tolerance, or if the \
        tensor names or shapes differ.
        """
    )

    @Argument(help: "First run directory or .safetensors file.") var a: String
    @Argument(help: "Second run directory or .safetensors file.") var b: String
    @Option(help: "Largest allowed absolute difference.") var tolerance: Float = 1e-5
    @Flag(help: "Only print a summary line.") var quiet = false

    func run() throws {
        Runtime.guarded { _ in
            func file(_ p: String) -> String { p.hasSuffix(".safetensors") ? p : RunDirectory(p).model }
            let fa = try SafeTensors.read(path: file(a)), fb = try SafeTensors.read(path: file(b))
            guard fa.entries.map(\.name).sorted() == fb.entries.map(\.name).sorted() else {
                throw DDPLMError("the files hold different tensors")
            }
            var worst: Float = 0
            for e in fa.entries {
                guard let eb = fb.entry(e.name), eb.shape == e.shape else { throw DDPLMError("tensor '\(e.name)' has different shapes") }
                let n = e.shape.reduce(1, *)
                var x = [Float](repeating: 0, count: n), y = [Float](repeating: 0, count: n)
                try fa.copyFloats(e.name, shape: e.shape, into: &x, file: a)
                try fb.copyFloats(e.name, shape: e.shape, into: &y, file: b)
                var d: Float = 0
                for i in 0..<n { d = max(d, abs(x[i] - y[i])) }
                if !(d <= worst) { worst = d }  // NaN-propagating
                if !quiet { print("\(e.name) \(e.shape): max |diff| \(d)") }
            }
            print("max |diff| \(worst) over \(fa.entries.count) tensors (tolerance \(tolerance))")
            if !(worst <= tolerance) { throw DDPLMError("checkpoints differ by \(worst) > \(tolerance)") }
        }
    }
}
