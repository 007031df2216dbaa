import XCTest
@testable import DDPLM
import Foundation

/// Finite-difference checks of the classifiers' backward passes (masked average + fc1/ReLU, the
/// bidirectional multi-layer LSTM over variable lengths, conv1d + max over time, dropout with fixed masks,
/// the BCE and softmax heads), and proofs that padding never leaks into a document's result.
final class ClassifierGradientCheckTests: XCTestCase {
    /// Documents of lengths `lengths` (ids avoid <pad>), labels cycling over the classes.
    static func documents(_ lengths: [Int], vocab: Int, classes: Int, seed: UInt64 = 5) -> DocumentSet {
        var rng = SplitMix64(seed: seed)
        var set = DocumentSet()
        for (i, n) in lengths.enumerated() {
            let doc = (0..<n).map { _ -> Int32 in
                let r = Int32(rng.next() % UInt64(vocab - 1))
                return r >= Int32(Vocabulary.pad) ? r + 1 : r
            }
            set.append(doc, label: Int32(i % classes))
        }
        return set
    }

    static func batch(_ docs: DocumentSet, minLength: Int, firstColumn: Int = 0) -> DocumentBatch {
        let order = docs.longestFirst((0..<docs.count).map { Int32($0) })
        let b = DocumentBatch(maxColumns: docs.count, maxT: max(docs.longest, minLength))
        b.fill(docs, order: order, count: docs.count, firstColumn: firstColumn, minLength: minLength)
        return b
    }

    func check(_ config: ClassifierConfig, lengths: [Int] = [5, 1, 3, 4, 3], dropout: Bool = false,
               file: StaticString = #filePath, line: UInt = #line) {
        let docs = Self.documents(lengths, vocab: config.vocabSize, classes: config.classes)
        let batch = Self.batch(docs, minLength: config.minLength)
        let model = TextClassifier(config: config, maxColumns: docs.count, maxT: batch.t)
        var seed: UInt64 = 11
        repeat {
            model.initialize(seed: seed)
            for i in 0..<model.store.count { model.store.params[i] *= 1.5 }
            seed += 1
        } while Self.kinkMargin(model, docs) < 0.05
        let key = DropoutKey(seed: 9, step: 3, firstColumn: 0)
        let p = config.dropout
        func loss() -> Double {
            model.store.zeroGradients()
            return model.trainStep(batch, dropout: key, scale: 1).loss
        }
        XCTAssertEqual(p > 0, dropout, file: file, line: line)
        _ = loss()
        let analytic = model.store.grads.array
        // ReLU and max over time have kinks; the seed is chosen (deterministically) so that every
        // pre-activation and every max-vs-runner-up gap is ≥ 0.05 away from one, and h keeps the
        // stencil (±2h, moving any pre-activation by ≤ 0.03) on one side
        let num = GradientCheckTests.numericGradient(model.store, h: config.kind == .bilstm ? 0.03 : 0.005, loss: loss)
        for spec in model.store.layout.specs {
            var diff = 0.0, na = 0.0, nn = 0.0, worst = (spec.offset, 0.0)
            for i in spec.offset..<(spec.offset + spec.count) {
                // the <pad> row is not a parameter PyTorch trains (padding_idx): no gradient, by design
                if spec.name == "embedding.weight" && (i - spec.offset) / config.embedding == Vocabulary.pad {
                    XCTAssertEqual(analytic[i], 0, file: file, line: line)
                    continue
                }
                let d = abs(num[i] - Double(analytic[i]))
                diff += d * d
                na += Double(analytic[i] * analytic[i])
                nn += num[i] * num[i]
                if d > worst.1 { worst = (i, d) }
            }
            let rel = (diff / max(na, nn, 1e-20)).squareRoot()
            XCTAssertLessThan(rel, 5e-3, "\(config.kind) \(spec.name): relative gradient error \(rel); worst [\(worst.0 - spec.offset)] numeric \(num[worst.0]) vs analytic \(analytic[worst.0])",
                              file: file, line: line)
            let g = analytic[spec.offset..<(spec.offset + spec.count)]
            XCTAssertTrue(g.contains { $0 != 0 }, "\(spec.name) has no gradient", file: file, line: line)
        }
    }

    /// The naive twin of the ReLU/max forward: the smallest distance of a WordAVG pre-activation from 0,
    /// or of a CNN window maximum from 0 and from the runner-up window (∞ for the BiLSTM: no kinks).
    static func kinkMargin(_ model: TextClassifier, _ docs: DocumentSet) -> Float {
        let c = model.config, L = model.store.layout, p = model.store.params.ptr, e = c.embedding
        let table = p + L.offset("embedding.weight")
        func x(_ doc: Int, _ pos: Int, _ k: Int) -> Float {
            let n = docs.length(doc)
            guard pos < n else { return 0 }
            let id = Int(docs.ids[docs.starts[doc] + pos])
            return id == Vocabulary.pad ? 0 : table[id * e + k]
        }
        var margin = Float.infinity
        for d in 0..<docs.count {
            let n = docs.length(d)
            switch c.kind {
            case .bilstm: return .infinity
            case .wordavg:
                let w = p + L.offset("fc1.weight"), b = p + L.offset("fc1.bias")
                for o in 0..<c.hidden {
                    var z = b[o]
                    for k in 0..<e {
                        var sum: Float = 0
                        for s in 0..<n { sum += x(d, s, k) }
                        z += w[o * e + k] * sum / Float(n)
                    }
                    margin = min(margin, abs(z))
                }
            case .cnn:
                let widest = c.filterSizes.max()!
                for (i, fs) in c.filterSizes.enumerated() {
                    let w = p + L.offset("convs.\(i).weight"), b = p + L.offset("convs.\(i).bias")
                    for o in 0..<c.filters {
                        var z: [Float] = []
                        for s in 0...(max(n, widest) - fs) {
                            var v = b[o]
                            for k in 0..<fs { for q in 0..<e { v += w[(o * e + q) * fs + k] * x(d, s + k, q) } }
                            z.append(v)
                        }
                        z.sort(by: >)
                        margin = min(margin, abs(z[0]))
                        if z.count > 1 && z[0] > 0 { margin = min(margin, z[0] - z[1]) }
                    }
                }
            }
        }
        return margin
    }

    func config(_ kind: ClassifierKind, classes: Int = 2, dropout: Float = 0) -> ClassifierConfig {
        var c = ClassifierConfig(kind: kind, vocabSize: 13, classes: classes)
        c.embedding = 5
        c.hidden = 4
        c.layers = 2
        c.filters = 3
        c.filterSizes = [2, 3]
        c.dropout = dropout
        return c
    }

    func testWordAverage() { check(config(.wordavg)) }
    func testWordAverageThreeClasses() { check(config(.wordavg, classes: 3)) }
    func testBiLSTMVariableLengths() { check(config(.bilstm)) }
    func testBiLSTMOneLayerThreeClasses() {
        var c = config(.bilstm, classes: 3)
        c.layers = 1
        check(c, lengths: [2, 6, 1, 6])
    }
    func testBiLSTMThreeLayersWithDropout() {
        var c = config(.bilstm, dropout: 0.3)
        c.layers = 3
        check(c, dropout: true)
    }
    func testCNN() { check(config(.cnn)) }
    func testCNNThreeClassesWithDropout() { check(config(.cnn, classes: 3, dropout: 0.3), lengths: [7, 2, 4, 1, 6], dropout: true) }

    /// A document's logits do not depend on what it is batched with: alone, or next to longer documents
    /// (more padding), every model gives the same numbers.
    func testPaddingDoesNotLeak() {
        for kind in ClassifierKind.allCases {
            let c = config(kind, classes: 3)
            let all = Self.documents([9, 2, 5, 1], vocab: 13, classes: 3)
            let model = TextClassifier(config: c, maxColumns: 4, maxT: 9)
            model.initialize(seed: 3)
            let together = Self.batch(all, minLength: c.minLength)
            model.forward(together, dropout: nil)
            var byDoc: [Int: [Float]] = [:]
            for j in 0..<4 {
                let len = Int(together.lengths[j])
                byDoc[len] = Array(UnsafeBufferPointer(start: model.logits.ptr + j * 3, count: 3))
            }
            for (i, len) in [9, 2, 5, 1].enumerated() {
                var one = DocumentSet()
                one.append(Array(all.ids[all.starts[i]..<all.starts[i + 1]]), label: 0)
                let alone = Self.batch(one, minLength: c.minLength)
                model.forward(alone, dropout: nil)
                let logits = Array(UnsafeBufferPointer(start: model.logits.ptr, count: 3))
                for k in 0..<3 {
                    XCTAssertEqual(logits[k], byDoc[len]![k], accuracy: 1e-5, "\(kind): document of length \(len) changed by its batch")
                }
            }
        }
    }
}
