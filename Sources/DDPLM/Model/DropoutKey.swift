/// Which dropout masks to draw: masks are a pure function of these (see `Dropout`).
struct DropoutKey: Sendable {
    var seed: UInt64
    var step: UInt64
    var firstColumn: Int
    init(seed: UInt64, step: UInt64, firstColumn: Int) {
        self.seed = seed
        self.step = step
        self.firstColumn = firstColumn
    }
}
