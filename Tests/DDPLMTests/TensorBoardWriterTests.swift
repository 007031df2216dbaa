import XCTest
@testable import DDPLM
import Foundation
import SwiftProtobuf

final class TensorBoardWriterTests: XCTestCase {
    func bytes(_ hex: String) -> [UInt8] {
        var out = [UInt8](), i = hex.startIndex
        while i < hex.endIndex {
            let j = hex.index(i, offsetBy: 2)
            out.append(UInt8(hex[i..<j], radix: 16)!)
            i = j
        }
        return out
    }

    func temporaryDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "ddplm-tb-\(getpid())-\(UInt64.random(in: 0...UInt64.max))"
        addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    /// The records of an event file, each checked against its two masked CRCs.
    func records(_ path: String) throws -> [[UInt8]] {
        let data = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(data[at + $1]) << (8 * UInt32($1)) } }
        var out = [[UInt8]](), off = 0
        while off < data.count {
            XCTAssertGreaterThanOrEqual(data.count - off, 12)
            let length = (0..<8).reduce(UInt64(0)) { $0 | UInt64(data[off + $1]) << (8 * UInt64($1)) }
            XCTAssertEqual(u32(off + 8), CRC32C.masked(CRC32C.checksum(Array(data[off..<off + 8]))))
            let start = off + 12, end = start + Int(length)
            XCTAssertLessThanOrEqual(end + 4, data.count)
            let payload = Array(data[start..<end])
            XCTAssertEqual(u32(end), CRC32C.masked(CRC32C.checksum(payload)))
            out.append(payload)
            off = end + 4
        }
        return out
    }

    func testCRC32CKnownAnswers() {
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([]), 0)
        // RFC 3720 (iSCSI) B.4 test vectors
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0xFF, count: 32)), 0x62A8_AB43)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8($0) }), 0x46DD_794E)
        XCTAssertEqual(CRC32C.checksum((0..<32).map { UInt8(31 - $0) }), 0x113F_DB5C)
    }

    func testMaskedCRCMatchesTensorBoard() {
        // tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c
        XCTAssertEqual(CRC32C.masked(CRC32C.checksum([])), 0xA282_EAD8)
        XCTAssertEqual(CRC32C.masked(CRC32C.checksum(Array("123456789".utf8))), 0xC78A_B0E5)
    }

    /// Byte-for-byte what TensorBoard's own Python RecordWriter writes for the same Event protos.
    func testRecordsMatchTensorBoardsWriter() throws {
        var scalar = Tensorboard_Event()
        scalar.wallTime = 1.5
        scalar.step = 7
        var value = Tensorboard_Summary.Value()
        value.tag = "train/loss"
        value.simpleValue = 2.5
        scalar.summary.value = [value]
        XCTAssertEqual(TensorBoardWriter.record(try scalar.serializedBytes()),
                       bytes("200000000000000029eda95009000000000000f83f10072a130a110a0a747261696e2f6c6f737315000020402508fb34"))

        var version = Tensorboard_Event()
        version.wallTime = 1.5
        version.fileVersion = "brain.Event:2"
        XCTAssertEqual(TensorBoardWriter.record(try version.serializedBytes()),
                       bytes("1800000000000000a37f4b2209000000000000f83f1a0d627261696e2e4576656e743a322a28646c"))

        var start = Tensorboard_Event()
        start.wallTime = 1.5
        start.step = 101
        start.sessionLog.status = .start
        XCTAssertEqual(TensorBoardWriter.record(try start.serializedBytes()),
                       bytes("0f000000000000006d532b0909000000000000f83f10653a02080101d02fc8"))
    }

    func testWriterFileReadsBack() throws {
        let dir = try temporaryDirectory() + "/nested/tb"
        let w = try TensorBoardWriter(directory: dir, firstStep: 11)
        try w.scalar(tag: "train/loss", value: 5.25, step: 11, wallTime: 100)
        try w.scalar(tag: "lr", value: 1e-3, step: 12)
        try w.flush()
        try w.close()
        try w.close()  // a second close does nothing
        XCTAssertThrowsError(try w.scalar(tag: "lr", value: 1, step: 13)) { e in
            XCTAssertTrue("\(e)".contains("closed"), "\(e)")
        }

        let name = (w.path as NSString).lastPathComponent
        XCTAssertEqual((w.path as NSString).deletingLastPathComponent, dir)
        XCTAssertTrue(name.hasPrefix("events.out.tfevents."), name)
        let parts = name.split(separator: ".")
        XCTAssertNotNil(Int(parts[3]), name)

        let events = try records(w.path).map { try Tensorboard_Event(serializedBytes: $0) }
        XCTAssertEqual(events.count, 4)
        XCTAssertEqual(events[0].fileVersion, "brain.Event:2")
        XCTAssertEqual(events[1].sessionLog.status, .start)
        XCTAssertEqual(events[1].step, 11)
        XCTAssertEqual(events[2].step, 11)
        XCTAssertEqual(events[2].wallTime, 100)
        XCTAssertEqual(events[2].summary.value.map(\.tag), ["train/loss"])
        XCTAssertEqual(events[2].summary.value[0].simpleValue, 5.25)
        XCTAssertEqual(events[3].summary.value[0].tag, "lr")
        XCTAssertEqual(events[3].summary.value[0].simpleValue, Float(1e-3))
        XCTAssertGreaterThan(events[3].wallTime, 1.6e9)
    }

    func testTwoWritersNeverShareAFile() throws {
        let dir = try temporaryDirectory()
        let a = try TensorBoardWriter(directory: dir), b = try TensorBoardWriter(directory: dir)
        XCTAssertNotEqual(a.path, b.path)
        try a.close()
        try b.close()
    }

    func testErrorsAreOneLine() throws {
        let dir = try temporaryDirectory()
        try AtomicFile.makeDirectory(dir)
        _ = FileManager.default.createFile(atPath: dir + "/file", contents: Data())
        XCTAssertThrowsError(try TensorBoardWriter(directory: dir + "/file/tb")) { e in
            XCTAssertTrue(e is DDPLMError)
            XCTAssertEqual("\(e)", "'\(dir)/file' exists and is not a directory")
        }
        let w = try TensorBoardWriter(directory: dir)
        XCTAssertThrowsError(try w.scalar(tag: "", value: 1, step: 1)) { e in
            XCTAssertFalse("\(e)".contains("\n"))
        }
    }
}
