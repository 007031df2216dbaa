import Glibc

/// Appends lines to a file (metrics.jsonl); each line is one write(2) so a crash loses at most the last.
final class LineLog {
    let fd: Int32
    let path: String
    init(path: String) throws {
        self.path = path
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        if fd < 0 { throw DDPLMError("cannot open '\(path)': \(AtomicFile.errnoString())") }
    }
    deinit { close(fd) }
    func append(_ line: String) throws {
        let bytes = Array((line + "\n").utf8)
        try bytes.withUnsafeBytes { try AtomicFile.writeAll(fd, $0, path: path) }
    }
}
