import XCTest
@testable import DDPLM
import Foundation

/// The classifiers against PyTorch itself (launch/torch-classify.py fixtures): for WordAVG, the 2-layer
/// BiLSTM over packed sequences, the CNN and a 3-class CNN, the same weights and documents must give
/// PyTorch's logits, mean loss and every parameter's gradient; and config.json's `pytorch` block must
/// name the module and arguments the fixture was built with.
final class ClassifierGoldenTests: XCTestCase {
    func testWordAverageMatchesPyTorch() throws { try check("wordavg") }
    func testBiLSTMMatchesPyTorch() throws { try check("bilstm") }
    func testCNNMatchesPyTorch() throws { try check("cnn") }
    func testThreeClassCNNMatchesPyTorch() throws { try check("cnn3") }

    struct Module: Decodable { var `class`: String; var args: [String: JSONNumberOrList] }
    enum JSONNumberOrList: Decodable, Equatable {
        case number(Double), list([Double])
        init(from decoder: any Swift.Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let v = try? c.decode(Double.self) { self = .number(v) } else { self = .list(try c.decode([Double].self)) }
        }
    }

    func check(_ name: String) throws {
        let file = try SafeTensors.read(path: GoldenFixtureTests.fixture("classify_" + name))
        let module = try JSONDecoder().decode(Module.self, from: Data(file.metadata["pytorch"]!.utf8))
        let kind = ClassifierKind.allCases.first { $0.torchClass == module.class }!
        func arg(_ k: String) -> Int { if case .number(let v)? = module.args[k] { return Int(v) }; return -1 }
        let outputs = arg("output_dim")
        var c = ClassifierConfig(kind: kind, vocabSize: arg("vocab_size"), classes: outputs == 1 ? 2 : outputs)
        c.embedding = arg("embedding_dim")
        if kind != .cnn { c.hidden = arg("hidden_dim") }
        if kind == .bilstm { c.layers = arg("n_layers") }
        if kind == .cnn {
            c.filters = arg("n_filters")
            if case .list(let w)? = module.args["filter_sizes"] { c.filterSizes = w.map { Int($0) } }
        }
        c.dropout = 0
        // config.json's pytorch block builds this very module
        let ours = try JSONDecoder().decode(Module.self, from: JSONEncoder().encode(ClassifierRunConfig.PyTorchModule(c)))
        XCTAssertEqual(ours.class, module.class)
        XCTAssertEqual(ours.args, module.args)

        let lengths = try tensor(file, "input.lengths", [4]).map { Int($0) }
        let t = lengths.max()!
        let ids = try tensor(file, "input.ids", [4, t]).map { Int32($0) }
        let labels = try tensor(file, "input.labels", [4]).map { Int32($0) }
        var docs = DocumentSet()
        for j in 0..<4 { docs.append(Array(ids[(j * t)..<(j * t + lengths[j])]), label: labels[j]) }
        let batch = ClassifierGradientCheckTests.batch(docs, minLength: c.minLength)
        let model = TextClassifier(config: c, maxColumns: 4, maxT: batch.t)
        try Checkpoint.load(model.store.layout, from: file, into: model.store.params.ptr, name: "fixture")
        model.store.zeroGradients()
        let r = model.trainStep(batch, dropout: DropoutKey(seed: 1, step: 1, firstColumn: 0), scale: 0.25)
        XCTAssertEqual(Float(r.loss / 4), try tensor(file, "expected.loss", [1])[0], accuracy: 2e-6, "\(name) loss")
        let expected = try tensor(file, "expected.logits", [4, c.outputs])
        let order = docs.longestFirst((0..<4).map { Int32($0) })
        for (j, doc) in order.enumerated() {
            assertClose(model.logits.ptr + j * c.outputs, Array(expected[(Int(doc) * c.outputs)..<((Int(doc) + 1) * c.outputs)]),
                               abs: 2e-6, rel: 1e-5, "\(name) logits of document \(doc)")
        }
        for spec in model.store.layout.specs {
            assertClose(model.store.grads.ptr + spec.offset, try tensor(file, "grad." + spec.name, spec.shape),
                               abs: 2e-6, rel: 1e-4, "\(name) grad.\(spec.name)")
        }
    }
}
