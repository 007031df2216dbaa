/// Which dropout masks to draw: masks are a pure function of these (see `Dropout`).
public struct DropoutKey: Sendable {
    public var seed: UInt64
    public var step: UInt64
    public var firstColumn: Int
    public init(seed: UInt64, step: UInt64, firstColumn: Int) {
        self.seed = seed
        self.step = step
        self.firstColumn = firstColumn
    }
}
