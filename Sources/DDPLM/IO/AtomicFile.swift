import Foundation

import Glibc

/// Crash-safe file replacement: write a temp file in the same directory, fsync it, rename it over the
/// target, fsync the directory. A reader sees the old file or the new one, never a mix; a failure
/// (disk full, permissions) leaves the old file untouched and removes the temp file.
public enum AtomicFile {
    /// The temp file being written right now (NUL-terminated, empty when none), so a hard-exit signal
    /// handler can remove it (`unlinkInFlight`).
    nonisolated(unsafe) static let inFlight: UnsafeMutablePointer<CChar> = {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: 4096)
        p.initialize(repeating: 0, count: 4096)
        return p
    }()

    /// Async-signal-safe: removes the temp file of a write in progress, if any.
    static func unlinkInFlight() {
        if inFlight[0] != 0 { unlink(inFlight) }
    }

    static func write(_ bytes: UnsafeRawBufferPointer, to path: String) throws {
        try write(to: path) { fd in try writeAll(fd, bytes, path: path) }
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try bytes.withUnsafeBytes { try write($0, to: path) }
    }

    public static func write(_ text: String, to path: String) throws {
        try write(Array(text.utf8), to: path)
    }

    /// Writes through `body(fd)` (which may write in pieces) and commits atomically.
    static func write(to path: String, _ body: (Int32) throws -> Void) throws {
        let dir = directory(of: path)
        let tmp = "\(dir)/\(temporaryName(baseName(path)))"
        _ = inFlight  // initialise before a signal can read it
        tmp.withCString { c in
            if strlen(c) < 4095 { strcpy(inFlight, c) }
        }
        defer { inFlight[0] = 0 }
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw DDPLMError("cannot write '\(path)': \(errnoString())") }
        do {
            try body(fd)
            if fsync(fd) != 0 { throw DDPLMError("cannot write '\(path)': fsync: \(errnoString())") }
            if close(fd) != 0 { throw DDPLMError("cannot write '\(path)': close: \(errnoString())") }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        if rename(tmp, path) != 0 {
            let e = errnoString()
            unlink(tmp)
            throw DDPLMError("cannot write '\(path)': rename: \(e)")
        }
        let dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if dfd >= 0 { fsync(dfd); close(dfd) }
    }

    /// The temp file beside `name` that this process writes before renaming it into place.
    static func temporaryName(_ name: String) -> String { ".\(name).tmp.\(getpid())" }

    /// Removes temp files a killed writer left in `dir` (never a committed file).
    static func removeStaleTemporaries(in dir: String) {
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where f.hasPrefix(".") && f.contains(".tmp.") {
            try? FileManager.default.removeItem(atPath: dir + "/" + f)
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var off = 0
        while off < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + off, min(bytes.count - off, 1 << 30))
            if n < 0 {
                if errno == EINTR { continue }
                throw DDPLMError("cannot write '\(path)': \(errnoString())")
            }
            off += n
        }
    }

    /// Creates a directory (and parents) if needed; errors say which path failed and why.
    static func makeDirectory(_ path: String) throws {
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            var st = stat()
            if stat(prefix, &st) == 0 {
                if (st.st_mode & S_IFMT) != S_IFDIR { throw DDPLMError("'\(prefix)' exists and is not a directory") }
                continue
            }
            if mkdir(prefix, 0o755) != 0 && errno != EEXIST {
                throw DDPLMError("cannot create directory '\(prefix)': \(errnoString())")
            }
        }
        if access(path, W_OK) != 0 { throw DDPLMError("output directory '\(path)' is not writable: \(errnoString())") }
    }

    static func directory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        let d = String(path[..<slash])
        return d.isEmpty ? "/" : d
    }

    static func baseName(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return path }
        return String(path[path.index(after: slash)...])
    }

    static func errnoString() -> String { String(cString: strerror(errno)) }
}
