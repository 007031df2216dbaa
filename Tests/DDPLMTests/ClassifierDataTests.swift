import XCTest
@testable import DDPLM
import Foundation

/// The classifier's tokeniser, corpora (tab files, aclImdb directories, the held-out split), word vectors
/// and their one-line errors.
final class ClassifierDataTests: XCTestCase {
    var dir = ""
    override func setUp() {
        dir = NSTemporaryDirectory() + "ddplm-cdata-\(getpid())-\(UUID().uuidString.prefix(8))"
        try! AtomicFile.makeDirectory(dir)
    }
    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func write(_ name: String, _ text: String) -> String {
        let p = dir + "/" + name
        try! AtomicFile.makeDirectory((p as NSString).deletingLastPathComponent)
        try! AtomicFile.write(text, to: p)
        return p
    }

    func error(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    func testTokenizer() {
        XCTAssertEqual(Tokenizer.tokenize("I didn't like it!"), ["i", "did", "n't", "like", "it", "!"])
        XCTAssertEqual(Tokenizer.tokenize("The movie's plot<br />was 'ok'."), ["the", "movie", "'s", "plot", "was", "'", "ok", "'", "."])
        XCTAssertEqual(Tokenizer.tokenize("A<BR>B<br/>C <br  / > d"), ["a", "b", "c", "<", "br", "/", ">", "d"])
        XCTAssertEqual(Tokenizer.tokenize("Café ÉCOLE 10/10 can't"), ["café", "École", "10", "/", "10", "ca", "n't"])
        XCTAssertEqual(Tokenizer.tokenize("rock'n'roll o'clock ''"), ["rock'n'roll", "o'clock", "'", "'"])
        XCTAssertEqual(Tokenizer.tokenize("  "), [])
    }

    func testTabFileAndDirectoryLayouts() throws {
        let tsv = write("a.tsv", "pos\tgood film\n\nneg\tbad\tfilm\r\n")
        let t = try LabelledText.read(tsv, role: "training")
        XCTAssertEqual(t.labels, ["pos", "neg"])
        XCTAssertEqual(t.texts, ["good film", "bad\tfilm"])
        _ = write("imdb/train/pos/1_9.txt", "Great!")
        _ = write("imdb/train/pos/0_8.txt", "Fine.")
        _ = write("imdb/train/neg/0_2.txt", "Awful.")
        _ = write("imdb/train/unsup/0_0.txt", "unlabelled")
        _ = write("imdb/train/urls_pos.txt", "http://x")
        let d = try LabelledText.read(dir + "/imdb/train", role: "training")
        XCTAssertEqual(d.labels, ["neg", "pos", "pos"])
        XCTAssertEqual(d.texts, ["Awful.", "Fine.", "Great!"])
    }

    func testBadInputGetsOneLine() throws {
        XCTAssertTrue(error { _ = try LabelledText.read(dir + "/none.tsv", role: "training") }.contains("does not exist"))
        XCTAssertTrue(error { _ = try LabelledText.read(write("notab.tsv", "pos good\n"), role: "training") }.contains("line 1: expected 'label<TAB>text'"))
        XCTAssertTrue(error { _ = try LabelledText.read(write("empty.tsv", "\n\n"), role: "training") }.contains("holds no documents"))
        let latin1 = dir + "/latin1.tsv"
        FileManager.default.createFile(atPath: latin1, contents: Data([0x70, 0x6f, 0x73, 0x09, 0x63, 0x61, 0x66, 0xe9, 0x0a]))
        XCTAssertTrue(error { _ = try LabelledText.read(latin1, role: "training") }.contains("not valid UTF-8"))
        try AtomicFile.makeDirectory(dir + "/imdb2/train/neg")
        _ = write("imdb2/train/pos/1.txt", "good")
        let e = error { _ = try LabelledText.read(self.dir + "/imdb2/train", role: "training") }
        XCTAssertTrue(e.contains("class 'neg' is empty"), e)
        _ = write("imdb3/train/pos/1.txt", "good")
        XCTAssertTrue(error { _ = try LabelledText.read(self.dir + "/imdb3", role: "training") }.contains("like the aclImdb root: give e.g. '\(self.dir)/imdb3/train'"))

        var data = ClassifierRunConfig.DataConfig(train: write("t.tsv", (0..<20).map { "\($0 % 2 == 0 ? "pos" : "neg")\tw\($0)" }.joined(separator: "\n")))
        data.test = write("test.tsv", "pos\tw1\nmaybe\tw2\n")
        XCTAssertTrue(error { _ = try ClassificationCorpora.load(data) }.contains("has the label 'maybe', which the training data does not have"))
        data.test = ""
        data.train = write("one.tsv", "pos\ta\npos\tb\npos\tc\npos\td\n")
        XCTAssertTrue(error { _ = try ClassificationCorpora.load(data) }.contains("only the label 'pos'"))
    }

    func testHeldOutSplitIsFixedAndDisjoint() throws {
        let lines = (0..<100).map { "\($0 % 2 == 0 ? "pos" : "neg")\tdoc number\($0) good" }
        let data = ClassifierRunConfig.DataConfig(train: write("t.tsv", lines.joined(separator: "\n")))
        let a = try ClassificationCorpora.load(data), b = try ClassificationCorpora.load(data)
        XCTAssertEqual(a.train.count, 70)
        XCTAssertEqual(a.valid.count, 30)
        XCTAssertEqual(a.valid.hash, b.valid.hash)
        XCTAssertEqual(a.labels, ["neg", "pos"])
        // the vocabulary comes from the 70 training documents only
        XCTAssertEqual(a.vocab.count, 2 + 2 + 70)
    }

    func testWordVectors() throws {
        let vocab = try Vocabulary(words: ["<unk>", "<pad>", "good", "bad", "film"])
        let table = FloatBuffer(count: 5 * 3)
        for i in 0..<15 { table[i] = 9 }
        let found = try PretrainedVectors.load(write("v.txt", "good 0.1 0.2 0.3\nother 1 2 3\nfilm -1 -2 -3e-1\n"), vocab: vocab, dim: 3, into: table.ptr)
        XCTAssertEqual(found, 2)
        XCTAssertEqual(table.array, [0, 0, 0, 0, 0, 0, 0.1, 0.2, 0.3, 9, 9, 9, -1, -2, -0.3])
        XCTAssertTrue(error { _ = try PretrainedVectors.load(self.write("w.txt", "good 0.1 0.2\n"), vocab: vocab, dim: 3, into: table.ptr) }
            .contains("line 1 has 2 numbers, but --emb is 3"))
        XCTAssertTrue(error { _ = try PretrainedVectors.load(self.write("x.txt", "good 0.1 zz 0.3\n"), vocab: vocab, dim: 3, into: table.ptr) }
            .contains("line 1: field 3 is not a number"))
        XCTAssertTrue(error { _ = try PretrainedVectors.load(self.dir + "/missing.txt", vocab: vocab, dim: 3, into: table.ptr) }.contains("do not exist"))
    }
}
