import XCTest
@testable import DDPLM
import Foundation

/// ddplm against PyTorch itself, without PyTorch: Fixtures/golden_*.safetensors hold a tiny
/// word_language_model RNNModel's state_dict, one batch, a non-zero initial state, and what PyTorch
/// computed from them — mean loss, final state, gradients, clip_grad_norm_ norms, and the weights and
/// Adam first moment after two clipped Adam steps (written by launch/make-golden-fixtures.py). Checks the
/// state_dict names and shapes, the gate order, forward and backward through time, clipping and Adam.
final class GoldenFixtureTests: XCTestCase {
    func testLSTMTwoLayersMatchesPyTorch() throws { try check("lstm2", cell: .lstm) }
    func testGRUMatchesPyTorch() throws { try check("gru1", cell: .gru) }
    func testRNNTanhTiedMatchesPyTorch() throws { try check("rnn_tanh_tied", cell: .rnnTanh) }

    static func fixture(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/golden_\(name).safetensors").path
    }

    /// PyTorch's state_dict names (all tensors but the fixture's own) are exactly ddplm's, same shapes;
    /// a tied alias holds the same values as the storage it names.
    func checkStateDictNames(_ file: SafeTensors, _ layout: ParameterLayout) throws {
        let fixtureOnly = ["input.", "state.", "expected.", "grad.", "step2.", "adam."]
        let torchNames = Set(file.entries.map(\.name).filter { n in !fixtureOnly.contains { n.hasPrefix($0) } })
        XCTAssertEqual(torchNames, Set(layout.specs.map(\.name)))
        for spec in layout.specs {
            XCTAssertEqual(file.entry(spec.name)?.shape, spec.shape, spec.name)
            if spec.isAlias {
                let own = layout.specs.first { !$0.isAlias && $0.offset == spec.offset }!
                XCTAssertEqual(try tensor(file, spec.name, spec.shape), try tensor(file, own.name, own.shape))
            }
        }
    }

    func check(_ name: String, cell: CellType) throws {
        let file = try SafeTensors.read(path: Self.fixture(name))
        let meta = file.metadata
        XCTAssertEqual(meta["cell"], cell.torchName)
        let v = Int(meta["ntoken"]!)!, e = Int(meta["ninp"]!)!, h = Int(meta["nhid"]!)!, l = Int(meta["nlayers"]!)!
        let b = Int(meta["batch"]!)!, t = Int(meta["bptt"]!)!
        let lr = Double(meta["lr"]!)!, clip = Double(meta["clip"]!)!
        let config = ModelConfig(vocabSize: v, embedding: e, hidden: h, layers: l, cell: cell, dropout: 0,
                                 tieWeights: meta["tie_weights"] == "true")
        try config.validate()
        let model = LanguageModel(config: config, batch: b, maxT: t)
        try Checkpoint.load(model.layout, from: file, into: model.store.params.ptr, name: name)
        let initial = model.store.params.array

        try checkStateDictNames(file, model.layout)

        let x = try tensor(file, "input.x", [t, b]).map { Int32($0) }
        let y = try tensor(file, "input.y", [t, b]).map { Int32($0) }
        let lstm = cell == .lstm
        let h0 = try tensor(file, "state.h0", [l, b, h])
        let c0 = lstm ? try tensor(file, "state.c0", [l, b, h]) : []
        let state = model.makeState()
        func resetState() {
            state.h.load(h0)
            if lstm { state.c.load(c0) }
        }
        func step() -> Double {
            resetState()
            model.store.zeroGradients()
            return x.withUnsafeBufferPointer { xp in
                y.withUnsafeBufferPointer { yp in
                    try! model.trainStep(x: xp.baseAddress!, y: yp.baseAddress!, t: t, state: state, dropout: nil)
                }
            }
        }

        // forward + backward: loss, final state, gradient of the mean loss
        let mean = step()
        let loss = try tensor(file, "expected.loss", [1])[0]
        XCTAssertEqual(mean, Double(loss), accuracy: 1e-5 * Double(loss), "\(name) loss")
        assertClose(state.h.ptr, try tensor(file, "expected.hT", [l, b, h]), abs: 1e-5, rel: 1e-4, "\(name) hT")
        if lstm { assertClose(state.c.ptr, try tensor(file, "expected.cT", [l, b, h]), abs: 1e-5, rel: 1e-4, "\(name) cT") }
        for spec in model.layout.specs where !spec.isAlias {
            assertClose(model.store.grads.ptr + spec.offset, try tensor(file, "grad." + spec.name, spec.shape),
                        abs: 1e-5, rel: 1e-4, "\(name) grad.\(spec.name)")
        }
        if let alias = model.layout.specs.first(where: \.isAlias) {
            // PyTorch puts the tied weight's one gradient under both names
            assertClose(model.store.grads.ptr + alias.offset, try tensor(file, "grad." + alias.name, alias.shape),
                        abs: 1e-5, rel: 1e-4, "\(name) grad.\(alias.name)")
        }

        // two steps of clip_grad_norm_ + Adam on the same batch from the same initial state, through the
        // production step (norm, clip coefficient folded into Adam's gradient scale)
        XCTAssertEqual(model.store.params.array, initial, "trainStep must not touch the weights")
        let stepper = TrainingStep(store: model.store, threads: .one, comm: SingleProcessCommunicator(), clip: clip)
        for k in 1...2 {
            let r = try stepper.run(lr: lr, adamStep: k) { step() }
            let expected = Double(try tensor(file, "expected.gradnorm\(k)", [1])[0])
            XCTAssertEqual(r.gradNorm, expected, accuracy: 1e-5 * expected, "\(name) gradnorm\(k)")
            XCTAssertGreaterThan(r.gradNorm, clip, "the fixture means clipping to be active")
        }
        for spec in model.layout.specs {
            assertClose(model.store.params.ptr + spec.offset, try tensor(file, "step2." + spec.name, spec.shape),
                        abs: 2e-5, rel: 1e-4, "\(name) step2.\(spec.name)")
            assertClose(model.store.m.ptr + spec.offset, try tensor(file, "adam.exp_avg." + spec.name, spec.shape),
                        abs: 1e-7, rel: 1e-4, "\(name) adam.exp_avg.\(spec.name)")
            assertClose(model.store.v.ptr + spec.offset, try tensor(file, "adam.exp_avg_sq." + spec.name, spec.shape),
                        abs: 1e-9, rel: 1e-4, "\(name) adam.exp_avg_sq.\(spec.name)")
        }
    }
}

/// Reading fixture tensors and comparing against them (also used by ClassifierGoldenTests).
extension XCTestCase {
    /// A whole F32 tensor of the fixture, its shape checked.
    func tensor(_ file: SafeTensors, _ name: String, _ shape: [Int]) throws -> [Float] {
        var out = [Float](repeating: 0, count: shape.reduce(1, *))
        try out.withUnsafeMutableBufferPointer {
            try file.copyFloats(name, shape: shape, into: $0.baseAddress!, file: "fixture")
        }
        return out
    }

    /// |actual − expected| ≤ abs + rel·|expected| for every element; reports the worst one.
    func assertClose(_ actual: UnsafePointer<Float>, _ expected: [Float], abs: Float, rel: Float,
                     _ what: String, file: StaticString = #filePath, line: UInt = #line) {
        var worst = -1, worstExcess: Float = 0
        for i in expected.indices {
            let excess = Swift.abs(actual[i] - expected[i]) - (abs + rel * Swift.abs(expected[i]))
            if !(excess <= worstExcess) { worst = i; worstExcess = excess.isNaN ? .infinity : excess }
        }
        if worst >= 0 {
            XCTFail("\(what)[\(worst)]: ddplm \(actual[worst]), PyTorch \(expected[worst])", file: file, line: line)
        }
    }
}
