/// A fixed-size, 64-byte-aligned Float buffer owned by one object. All numeric state (parameters,
/// gradients, Adam moments, activations) lives in these, allocated once from the config, so the
/// training step never allocates. A buffer can also be a view of memory someone else owns
/// (`init(wrapping:count:)`: node-shared weights).
public final class FloatBuffer {
    public let count: Int
    public let ptr: UnsafeMutablePointer<Float>
    private let owned: Bool

    public init(count: Int) {
        precondition(count >= 0)
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        ptr = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        ptr.initialize(repeating: 0, count: max(count, 1))
        owned = true
    }

    /// A view of `count` floats at `raw` (64-byte aligned), which outlive it.
    init(wrapping raw: UnsafeMutableRawPointer, count: Int) {
        precondition(Int(bitPattern: raw) % 64 == 0, "a FloatBuffer is 64-byte aligned")
        self.count = count
        ptr = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        owned = false
    }

    deinit { if owned { UnsafeMutableRawPointer(ptr).deallocate() } }

    subscript(i: Int) -> Float {
        get { ptr[i] }
        set { ptr[i] = newValue }
    }

    func zero() { ptr.update(repeating: 0, count: count) }

    func copy(from other: FloatBuffer) {
        precondition(other.count == count)
        ptr.update(from: other.ptr, count: count)
    }

    var array: [Float] { Array(UnsafeBufferPointer(start: ptr, count: count)) }

    func load(_ values: [Float]) {
        precondition(values.count == count)
        values.withUnsafeBufferPointer { ptr.update(from: $0.baseAddress!, count: count) }
    }
}
