import XCTest
@testable import DDPLM
import Foundation

final class DataTests: XCTestCase {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    func testVocabularyOrderIsFrequencyThenAlphabetical() throws {
        let text = try Corpus.normalise(bytes("b a c b a d b\nE e e"), name: "t")
        let (vocab, ids) = Vocabulary.build(from: text, maxSize: 3)
        // counts: b 3, e 3, a 2, c 1, d 1 → ties broken alphabetically: b, e, a; c and d are cut
        XCTAssertEqual(vocab.words, ["<unk>", "<pad>", "b", "e", "a"])
        XCTAssertEqual(ids, [2, 4, 0, 2, 4, 0, 2, 3, 3, 3])
        XCTAssertEqual(vocab.encode(try Corpus.normalise(bytes("A zzz b"), name: "t")), [4, 0, 2])
    }

    func testSpecialTokensInTheCorpusAreNotCountedTwice() throws {
        let (vocab, ids) = Vocabulary.build(from: bytes("<unk> x <pad> x"), maxSize: 10)
        XCTAssertEqual(vocab.words, ["<unk>", "<pad>", "x"])
        XCTAssertEqual(ids, [0, 2, 1, 2])
    }

    func testUnicodeLowercasingAndWhitespace() throws {
        let text = try Corpus.normalise(bytes("Äpfel\u{00A0}ÄPFEL\tbirnen"), name: "t")
        XCTAssertEqual(String(decoding: text, as: UTF8.self), "äpfel äpfel birnen")
    }

    func testBinaryAndInvalidUTF8AreRejected() {
        XCTAssertThrowsError(try Corpus.normalise([0x61, 0x00, 0x62], name: "f")) { e in
            XCTAssertTrue("\(e)".contains("binary"), "\(e)")
        }
        XCTAssertThrowsError(try Corpus.normalise([0x61, 0xff, 0xfe], name: "f")) { e in
            XCTAssertTrue("\(e)".contains("UTF-8"), "\(e)")
        }
    }

    func testCorpusFileErrors() throws {
        let dir = NSTemporaryDirectory() + "ddplm-data-\(getpid())"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        XCTAssertThrowsError(try Corpus.load(dir + "/missing.txt", role: "training", hint: "run launch/get-text8")) { e in
            XCTAssertEqual("\(e)", "training corpus '\(dir)/missing.txt' does not exist; run launch/get-text8")
        }
        XCTAssertThrowsError(try Corpus.load(dir, role: "training")) { e in XCTAssertTrue("\(e)".contains("is a directory")) }
        _ = FileManager.default.createFile(atPath: dir + "/empty.txt", contents: Data(" \n\n".utf8))
        XCTAssertThrowsError(try Corpus.load(dir + "/empty.txt", role: "validation")) { e in XCTAssertTrue("\(e)".contains("is empty")) }
        _ = FileManager.default.createFile(atPath: dir + "/bin", contents: Data([0x7f, 0x45, 0x4c, 0x46, 0x02, 0x01, 0x01, 0x00]))
        XCTAssertThrowsError(try Corpus.load(dir + "/bin", role: "test")) { e in XCTAssertTrue("\(e)".contains("binary")) }
    }

    /// 26 tokens, B = 3 → 8 rows (tokens 24, 25 dropped); bptt 3 → windows at rows 0, 3, 6 of lengths 3, 3, 1.
    func testBatcherMatchesHandComputedExample() throws {
        let ids = (0..<26).map { Int32($0) }
        let b = try Batcher(ids: ids, batch: 3, bptt: 3)
        XCTAssertEqual(b.rows, 8)
        XCTAssertEqual(b.windowCount, 3)
        var x = [Int32](repeating: -1, count: 9), y = [Int32](repeating: -1, count: 9)
        XCTAssertEqual(b.fill(window: 0, firstColumn: 0, columns: 3, x: &x, y: &y), 3)
        XCTAssertEqual(x, [0, 8, 16, 1, 9, 17, 2, 10, 18])
        XCTAssertEqual(y, [1, 9, 17, 2, 10, 18, 3, 11, 19])
        XCTAssertEqual(b.fill(window: 1, firstColumn: 0, columns: 3, x: &x, y: &y), 3)
        XCTAssertEqual(x, [3, 11, 19, 4, 12, 20, 5, 13, 21])
        XCTAssertEqual(y, [4, 12, 20, 5, 13, 21, 6, 14, 22])
        // the ragged last window: one row
        XCTAssertEqual(b.fill(window: 2, firstColumn: 0, columns: 3, x: &x, y: &y), 1)
        XCTAssertEqual(Array(x[0..<3]), [6, 14, 22])
        XCTAssertEqual(Array(y[0..<3]), [7, 15, 23])
        // a rank's shard: columns 1..2 only
        XCTAssertEqual(b.fill(window: 0, firstColumn: 1, columns: 2, x: &x, y: &y), 3)
        XCTAssertEqual(Array(x[0..<6]), [8, 16, 9, 17, 10, 18])
    }

    func testBatcherRejectsCorporaShorterThanOneWindow() {
        XCTAssertThrowsError(try Batcher(ids: [Int32](repeating: 2, count: 10), batch: 4, bptt: 3, name: "corpus 'x'")) { e in
            XCTAssertEqual("\(e)", "corpus 'x' is too short: 10 tokens, but batch 4 × (bptt 3 + 1) = 16 are needed for one window")
        }
    }

    func testVocabularyFileRoundTripAndValidation() throws {
        let path = NSTemporaryDirectory() + "ddplm-vocab-\(getpid()).txt"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let v = try Vocabulary(words: ["<unk>", "<pad>", "the", "of"])
        try AtomicFile.write(v.fileContents, to: path)
        let w = try Vocabulary.load(path)
        XCTAssertEqual(w.words, v.words)
        XCTAssertEqual(w.hash, v.hash)
        XCTAssertEqual(w.id(of: "The"), 2)
        XCTAssertEqual(w.id(of: "nope"), 0)
        try AtomicFile.write("<unk>\n<pad>\nthe\nthe\n", to: path)
        XCTAssertThrowsError(try Vocabulary.load(path)) { e in XCTAssertTrue("\(e)".contains("duplicate")) }
    }
}
