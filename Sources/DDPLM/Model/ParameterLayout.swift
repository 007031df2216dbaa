/// Where each named tensor lives in the one flat parameter buffer. Order and names are PyTorch's
/// `state_dict()` for word_language_model's RNNModel: encoder.weight, rnn.{weight_ih,weight_hh,bias_ih,
/// bias_hh}_l{k}, decoder.weight, decoder.bias; shapes row-major as PyTorch stores them. With tied
/// weights `decoder.weight` is a second name for `encoder.weight`'s storage (as in PyTorch).
public struct TensorSpec: Equatable, Sendable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    /// True when this name shares storage with an earlier tensor (tied decoder weight).
    public let isAlias: Bool
    public var count: Int { shape.reduce(1, *) }
}

public struct ParameterLayout: Sendable {
    public let specs: [TensorSpec]
    /// Floats in the flat buffer (aliases not counted twice).
    public let count: Int

    public let encoderWeight: Int
    public let decoderWeight: Int
    public let decoderBias: Int
    /// Per layer: offsets of weight_ih, weight_hh, bias_ih, bias_hh.
    public let layerOffsets: [(wih: Int, whh: Int, bih: Int, bhh: Int)]

    public init(_ c: ModelConfig) {
        var specs: [TensorSpec] = []
        var off = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            let s = TensorSpec(name: name, shape: shape, offset: off, isAlias: false)
            specs.append(s)
            off += s.count
            return s.offset
        }
        let v = c.vocabSize, h = c.hidden, g = c.cell.gates * c.hidden
        encoderWeight = add("encoder.weight", [v, c.embedding])
        var layers: [(Int, Int, Int, Int)] = []
        for k in 0..<c.layers {
            let wih = add("rnn.weight_ih_l\(k)", [g, c.inputSize(layer: k)])
            let whh = add("rnn.weight_hh_l\(k)", [g, h])
            let bih = add("rnn.bias_ih_l\(k)", [g])
            let bhh = add("rnn.bias_hh_l\(k)", [g])
            layers.append((wih, whh, bih, bhh))
        }
        layerOffsets = layers
        if c.tieWeights {
            decoderWeight = encoderWeight
            specs.append(TensorSpec(name: "decoder.weight", shape: [v, h], offset: encoderWeight, isAlias: true))
        } else {
            decoderWeight = add("decoder.weight", [v, h])
        }
        decoderBias = add("decoder.bias", [v])
        self.specs = specs
        count = off
    }

    public func spec(_ name: String) -> TensorSpec? { specs.first { $0.name == name } }
}
