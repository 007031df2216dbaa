import XCTest
@testable import DDPLM
import Foundation

/// Finite-difference checks of every backward pass: embedding, each cell type, stacked layers, tied
/// weights, dropout (fixed masks), and the fused decoder/softmax-CE, through the whole model.
final class GradientCheckTests: XCTestCase {
    /// Central differences on the mean window loss, against `grads` from trainStep.
    func check(_ config: ModelConfig, batch: Int = 3, t: Int = 4, chunkRows: Int = 5, dropout: Bool = false,
               file: StaticString = #filePath, line: UInt = #line) {
        let model = LanguageModel(config: config, batch: batch, maxT: t, chunkRows: chunkRows)
        model.initialize(seed: 11)
        var rng = SplitMix64(seed: 5)
        // scale weights up a little so gates are not all near their linear regime
        for i in 0..<model.store.count { model.store.params[i] *= 1.5 }
        let x = (0..<(t * batch)).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        let y = (0..<(t * batch)).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) }
        let start = model.makeState()
        for i in 0..<start.h.count { start.h[i] = rng.nextFloat() - 0.5 }
        for i in 0..<start.c.count { start.c[i] = rng.nextFloat() - 0.5 }
        let key = dropout ? DropoutKey(seed: 9, step: 3, firstColumn: 0) : nil

        func loss() -> Double {
            let s = model.makeState()
            s.h.copy(from: start.h)
            if s.c.count > 0 { s.c.copy(from: start.c) }
            model.store.zeroGradients()
            return x.withUnsafeBufferPointer { xp in y.withUnsafeBufferPointer { yp in
                try! model.trainStep(x: xp.baseAddress!, y: yp.baseAddress!, t: t, state: s, dropout: key)
            } }
        }
        _ = loss()
        let analytic = model.store.grads.array
        // five-point central differences: truncation error O(h⁴), so h can be large enough that float
        // rounding in the forward pass stays far below the tolerance
        let num = Self.numericGradient(model.store, h: 0.03, loss: loss)
        // per tensor: ‖num − analytic‖ / max(‖num‖, ‖analytic‖), so a wrong gate cannot hide behind the
        // large decoder gradients
        for spec in model.layout.specs where !spec.isAlias {
            var diff = 0.0, na = 0.0, nn = 0.0, worst = (spec.offset, 0.0)
            for i in spec.offset..<(spec.offset + spec.count) {
                let d = abs(num[i] - Double(analytic[i]))
                diff += d * d
                na += Double(analytic[i] * analytic[i])
                nn += num[i] * num[i]
                if d > worst.1 { worst = (i, d) }
            }
            let rel = (diff / max(na, nn, 1e-20)).squareRoot()
            if ProcessInfo.processInfo.environment["DDPLM_GRADCHECK_VERBOSE"] != nil { print("gradcheck \(config.cell) \(spec.name): \(rel)") }
            XCTAssertLessThan(rel, 1e-3, "\(spec.name): relative gradient error \(rel); worst [\(worst.0 - spec.offset)] numeric \(num[worst.0]) vs analytic \(analytic[worst.0])",
                              file: file, line: line)
        }
        // every tensor received some gradient
        for spec in model.layout.specs where !spec.isAlias {
            let g = analytic[spec.offset..<(spec.offset + spec.count)]
            XCTAssertTrue(g.contains { $0 != 0 }, "\(spec.name) has no gradient", file: file, line: line)
        }
    }

    /// Five-point central differences of `loss` with respect to every parameter of `store`.
    static func numericGradient(_ store: ParameterStore, h: Float, loss: () -> Double) -> [Double] {
        var num = [Double](repeating: 0, count: store.count)
        for i in 0..<store.count {
            let old = store.params[i]
            var f = [Double]()
            for k: Float in [2, 1, -1, -2] {
                store.params[i] = old + k * h
                f.append(loss())
            }
            store.params[i] = old
            num[i] = (-f[0] + 8 * f[1] - 8 * f[2] + f[3]) / (12 * Double(h))
        }
        return num
    }

    func testLSTM() { check(ModelConfig(vocabSize: 11, embedding: 5, hidden: 4, layers: 1, cell: .lstm)) }
    func testGRU() { check(ModelConfig(vocabSize: 11, embedding: 5, hidden: 4, layers: 1, cell: .gru)) }
    func testRNNTanh() { check(ModelConfig(vocabSize: 11, embedding: 5, hidden: 4, layers: 1, cell: .rnnTanh)) }
    func testTwoLayerLSTM() { check(ModelConfig(vocabSize: 9, embedding: 3, hidden: 4, layers: 2, cell: .lstm)) }
    func testTwoLayerGRU() { check(ModelConfig(vocabSize: 9, embedding: 3, hidden: 4, layers: 2, cell: .gru)) }
    func testThreeLayerRNN() { check(ModelConfig(vocabSize: 9, embedding: 3, hidden: 4, layers: 3, cell: .rnnTanh)) }
    func testTiedWeights() { check(ModelConfig(vocabSize: 10, embedding: 4, hidden: 4, layers: 1, cell: .lstm, tieWeights: true)) }
    func testDropoutWithFixedMasks() {
        check(ModelConfig(vocabSize: 9, embedding: 4, hidden: 5, layers: 2, cell: .lstm, dropout: 0.3), dropout: true)
    }
    func testRaggedShortWindowAndSingleRowChunks() {
        check(ModelConfig(vocabSize: 7, embedding: 3, hidden: 3, layers: 1, cell: .gru), batch: 2, t: 1, chunkRows: 1)
    }

    /// Detached carry: the window's loss must not depend on the gradient path into the previous window,
    /// and the final state handed on must equal a forward of the same window.
    func testStateIsCarriedAcrossWindows() throws {
        let config = ModelConfig(vocabSize: 8, embedding: 3, hidden: 4, cell: .lstm)
        let model = LanguageModel(config: config, batch: 2, maxT: 3)
        model.initialize(seed: 1)
        var x: [Int32] = [1, 2, 3, 4, 5, 6], y: [Int32] = [2, 3, 4, 5, 6, 7]
        let s1 = model.makeState(), s2 = model.makeState()
        let a = try model.evaluate(x: &x, y: &y, t: 3, state: s1)
        let b = try model.evaluate(x: &x, y: &y, t: 3, state: s1)  // second window starts from the carry
        let c = try model.evaluate(x: &x, y: &y, t: 3, state: s2)  // fresh state again
        XCTAssertEqual(a, c)
        XCTAssertNotEqual(a, b)
        XCTAssertTrue(s1.h.array.contains { $0 != 0 })
    }

    /// Truncated BPTT: the gradient of a window that starts from the carried state is the gradient with
    /// that state held constant. After a trained window, the next window's gradients equal those of a model
    /// with no history started from a copy of the carry (bit for bit: nothing of the previous backward
    /// leaks in), and they match finite differences taken with the carry fixed (no path through it).
    func testCarriedStateIsDetached() throws {
        let config = ModelConfig(vocabSize: 9, embedding: 3, hidden: 4, layers: 2, cell: .lstm)
        let batch = 2, t = 3
        let model = LanguageModel(config: config, batch: batch, maxT: t, chunkRows: 4)
        model.initialize(seed: 3)
        for i in 0..<model.store.count { model.store.params[i] *= 1.5 }
        var rng = SplitMix64(seed: 8)
        func tokens() -> [Int32] { (0..<(batch * t)).map { _ in Int32(rng.next() % UInt64(config.vocabSize)) } }
        let x1 = tokens(), y1 = tokens(), x2 = tokens(), y2 = tokens()
        func step(_ m: LanguageModel, _ x: [Int32], _ y: [Int32], _ s: RecurrentState) throws -> Double {
            m.store.zeroGradients()
            return try x.withUnsafeBufferPointer { xp in try y.withUnsafeBufferPointer { yp in
                try m.trainStep(x: xp.baseAddress!, y: yp.baseAddress!, t: t, state: s, dropout: nil)
            } }
        }
        let carried = model.makeState()
        _ = try step(model, x1, y1, carried)
        let h = carried.h.array, c = carried.c.array
        XCTAssertTrue(h.contains { $0 != 0 } && c.contains { $0 != 0 })
        let loss = try step(model, x2, y2, carried)
        let grads = model.store.grads.array

        let fresh = LanguageModel(config: config, batch: batch, maxT: t, chunkRows: 4)
        fresh.store.params.ptr.update(from: model.store.params.ptr, count: model.store.count)
        func fromCarry() -> RecurrentState {
            let s = fresh.makeState()
            for i in 0..<h.count { s.h[i] = h[i] }
            for i in 0..<c.count { s.c[i] = c[i] }
            return s
        }
        XCTAssertEqual(try step(fresh, x2, y2, fromCarry()), loss)
        XCTAssertEqual(fresh.store.grads.array.map(\.bitPattern), grads.map(\.bitPattern),
                       "the window's gradients depend on the previous window's backward")
        let num = Self.numericGradient(fresh.store, h: 0.03) { try! step(fresh, x2, y2, fromCarry()) }
        for spec in fresh.layout.specs where !spec.isAlias && spec.name.hasPrefix("rnn.") {
            var diff = 0.0, norm = 0.0
            for i in spec.offset..<(spec.offset + spec.count) {
                diff += (num[i] - Double(grads[i])) * (num[i] - Double(grads[i]))
                norm += max(num[i] * num[i], Double(grads[i] * grads[i]))
            }
            // float rounding in the small first-layer gradients leaves ~1e-3; a path into the previous window would be O(1)
            XCTAssertLessThan((diff / max(norm, 1e-20)).squareRoot(), 5e-3, "\(spec.name): not the gradient with the carry held constant")
        }
    }
}
