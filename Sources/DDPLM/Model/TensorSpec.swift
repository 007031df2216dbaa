/// One named tensor in a flat parameter buffer: PyTorch `state_dict` name, shape (row-major, as PyTorch
/// stores it) and offset in floats.
struct TensorSpec: Equatable, Sendable {
    let name: String
    let shape: [Int]
    let offset: Int
    /// True when this name shares storage with an earlier tensor (a tied decoder weight).
    let isAlias: Bool
    var count: Int { shape.reduce(1, *) }
}
