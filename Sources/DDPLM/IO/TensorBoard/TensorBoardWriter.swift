import Glibc
import SwiftProtobuf

/// Writes a TensorBoard event file, `events.out.tfevents.<unix seconds>.<hostname>`, in a directory:
/// first an Event with file_version "brain.Event:2", then a SessionLog START at `firstStep`, then one
/// Event per scalar (Summary.Value with tag and simple_value), which TensorBoard shows in its Scalars
/// tab. A resumed run writes a new file in the same directory; its START makes TensorBoard drop the
/// points the interrupted run had logged after its last checkpoint (the Rust data server does the
/// same by itself when a tag's step goes back).
///
/// Records use TFRecord framing: uint64 little-endian payload length, uint32 masked CRC-32C of those
/// 8 bytes, the payload (a serialized tensorboard.Event), uint32 masked CRC-32C of the payload. Each
/// record is one write(2) on an O_APPEND descriptor, so a crash loses at most the record being written;
/// TensorBoard reads every whole record before a torn one. The messages are generated from
/// proto/tensorboard/*.proto (see proto/README.md). Only rank 0 should write.
public final class TensorBoardWriter {
    /// The event file this writer appends to.
    public let path: String
    private var fd: Int32

    /// Creates the directory (and parents) if needed and starts a new event file in it. If a file of
    /// that name exists (two writers started in the same second), ".1", ".2", ... is appended.
    /// `firstStep`: the first step this writer can log; a run resumed from a checkpoint taken after
    /// step N passes N + 1, and earlier files' points at steps >= N + 1 are then discarded.
    public init(directory: String, firstStep: Int = 0) throws {
        try AtomicFile.makeDirectory(directory)
        let base = "\(directory)/events.out.tfevents.\(time(nil)).\(Self.hostname())"
        var candidate = base
        var n = 0
        var opened: Int32 = -1
        while true {
            opened = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0o644)
            if opened >= 0 { break }
            if errno != EEXIST || n >= 1000 {
                throw DDPLMError("cannot create TensorBoard event file '\(candidate)': \(AtomicFile.errnoString())")
            }
            n += 1
            candidate = "\(base).\(n)"
        }
        path = candidate
        fd = opened
        let wallTime = Self.now()
        var version = Tensorboard_Event()
        version.wallTime = wallTime
        version.fileVersion = "brain.Event:2"
        var start = Tensorboard_Event()
        start.wallTime = wallTime
        start.step = Int64(firstStep)
        start.sessionLog.status = .start
        do {
            try append(version)
            try append(start)
        } catch {
            Glibc.close(fd)
            fd = -1
            unlink(candidate)
            throw error
        }
    }

    deinit {
        if fd >= 0 { Glibc.close(fd) }
    }

    /// Appends one scalar point; `wallTime` (seconds since the Unix epoch) defaults to now. TensorBoard
    /// stores scalars as 32-bit floats.
    public func scalar(tag: String, value: Double, step: Int, wallTime: Double? = nil) throws {
        if tag.isEmpty { throw DDPLMError("TensorBoard scalar needs a non-empty tag") }
        var v = Tensorboard_Summary.Value()
        v.tag = tag
        v.simpleValue = Float(value)
        var event = Tensorboard_Event()
        event.wallTime = wallTime ?? Self.now()
        event.step = Int64(step)
        event.summary = Tensorboard_Summary.with { $0.value = [v] }
        try append(event)
    }

    /// Forces what was written to disk (fsync). Every record is already in the file once `scalar`
    /// returns; this only guards against a machine crash.
    func flush() throws {
        guard fd >= 0 else { throw DDPLMError("TensorBoard event file '\(path)' is already closed") }
        if fsync(fd) != 0 {
            throw DDPLMError("cannot write TensorBoard event file '\(path)': fsync: \(AtomicFile.errnoString())")
        }
    }

    /// Flushes and closes the file; further calls do nothing, further scalars throw.
    public func close() throws {
        guard fd >= 0 else { return }
        let synced = fsync(fd) == 0
        let syncError = synced ? "" : AtomicFile.errnoString()
        let closed = Glibc.close(fd) == 0
        let closeError = closed ? "" : AtomicFile.errnoString()
        fd = -1
        if !synced { throw DDPLMError("cannot write TensorBoard event file '\(path)': fsync: \(syncError)") }
        if !closed { throw DDPLMError("cannot write TensorBoard event file '\(path)': close: \(closeError)") }
    }

    // MARK: - Records

    /// One TFRecord around `payload`: length, masked CRC of the length, payload, masked CRC of the payload.
    static func record(_ payload: [UInt8]) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(payload.count + 16)
        let length = UInt64(payload.count)
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: length >> (8 * UInt64(i)))) }
        let lengthCRC = out.withUnsafeBytes { CRC32C.masked(CRC32C.checksum($0)) }
        appendLittleEndian(lengthCRC, to: &out)
        out += payload
        appendLittleEndian(CRC32C.masked(CRC32C.checksum(payload)), to: &out)
        return out
    }

    private static func appendLittleEndian(_ v: UInt32, to out: inout [UInt8]) {
        for i in 0..<4 { out.append(UInt8(truncatingIfNeeded: v >> (8 * UInt32(i)))) }
    }

    private func append(_ event: Tensorboard_Event) throws {
        guard fd >= 0 else { throw DDPLMError("TensorBoard event file '\(path)' is already closed") }
        let payload: [UInt8]
        do {
            payload = try event.serializedBytes()
        } catch {
            throw DDPLMError("cannot encode a TensorBoard event for '\(path)': \(error)")
        }
        let bytes = Self.record(payload)
        // One write(2) per record (writeAll goes on after a short write: disk full, signal).
        try bytes.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path) }
    }

    // MARK: - System

    private static func now() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_REALTIME, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    private static func hostname() -> String {
        var buf = [CChar](repeating: 0, count: 256)
        guard gethostname(&buf, buf.count - 1) == 0 else { return "localhost" }
        let name = String(cString: buf)
        return name.isEmpty ? "localhost" : name
    }
}
