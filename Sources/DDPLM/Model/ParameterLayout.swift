/// Where each named tensor lives in the one flat parameter buffer. Knows nothing about which model it
/// describes: a model declares its tensors in `state_dict` order with `add` (and `alias` for tied
/// weights), then looks its offsets up by name.
struct ParameterLayout: Sendable {
    private(set) var specs: [TensorSpec] = []
    /// Floats in the flat buffer (aliases not counted twice).
    private(set) var count = 0
    /// The first tensor's shape when it is an embedding table whose gradient touches only the rows of
    /// the batch's tokens (declared with `sparseRows: true`; a tied weight is not one): N ranks exchange
    /// only those rows (see `ParameterStore.replicated`).
    private(set) var sparseRows: (rows: Int, width: Int)?

    init() {}

    /// Appends a tensor; returns its offset.
    @discardableResult
    mutating func add(_ name: String, _ shape: [Int], sparseRows: Bool = false) -> Int {
        let s = TensorSpec(name: name, shape: shape, offset: count, isAlias: false)
        if sparseRows {
            precondition(count == 0 && shape.count == 2, "only the first tensor, a table, can have sparse rows")
            self.sparseRows = (shape[0], shape[1])
        }
        specs.append(s)
        count += s.count
        return s.offset
    }

    /// A second name for an existing tensor's storage.
    mutating func alias(_ name: String, of target: String) {
        guard let t = spec(target) else { preconditionFailure("alias of unknown tensor \(target)") }
        if t.offset == 0 { sparseRows = nil }  // a tied table's gradient is dense
        specs.append(TensorSpec(name: name, shape: t.shape, offset: t.offset, isAlias: true))
    }

    func spec(_ name: String) -> TensorSpec? { specs.first { $0.name == name } }

    /// Offset of a tensor the model itself declared.
    func offset(_ name: String) -> Int {
        guard let s = spec(name) else { preconditionFailure("no tensor \(name) in the layout") }
        return s.offset
    }

    /// The flat range the named tensors fill together; they must be adjacent (what an exchange schedule is
    /// told about a layer must not cover another tensor).
    func span(_ names: [String]) -> Range<Int> {
        let s = names.map { name -> TensorSpec in
            guard let t = spec(name) else { preconditionFailure("no tensor \(name) in the layout") }
            return t
        }
        let lo = s.map(\.offset).min()!, hi = s.map { $0.offset + $0.count }.max()!
        precondition(hi - lo == s.reduce(0) { $0 + $1.count }, "tensors \(names) are not adjacent in the layout")
        return lo..<hi
    }

    /// The tensors that own storage (what a checkpoint must hold to restore the buffer).
    var stored: [TensorSpec] { specs.filter { !$0.isAlias } }
}
