// Reading an input file with limits: a scenario (or snapshot) file is untrusted input,
// so it is read with a byte and a line limit and only from something that can end.
//
// Accepted: regular files, and FIFOs/pipes (read like `cat` does: the open and the
// reads block until a writer comes and closes; the limits still apply, so an endless
// writer is cut off). Refused before reading: directories, character and block devices
// (`/dev/zero` would never end), sockets.

#if canImport(Glibc)
import Glibc
#endif

/// Why a file could not be read within its limits; `description` is the reason alone
/// (callers put the file name in front, e.g. `FILE: cannot read: REASON`).
public struct BoundedReadError: Error, Sendable, Equatable, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Limits of `readBoundedFile`.
public struct ReadLimits: Sendable, Equatable {
    /// Largest accepted size in bytes.
    public var maxBytes: Int
    /// Largest accepted number of lines (newline characters, plus a last unterminated line).
    public var maxLines: Int
    public init(maxBytes: Int, maxLines: Int) {
        self.maxBytes = maxBytes
        self.maxLines = maxLines
    }
    /// Scenario files: 64 MiB or 1,048,576 lines, whichever comes first (docs/SCENARIOS.md).
    public static let scenario = ReadLimits(maxBytes: 64 << 20, maxLines: 1 << 20)
}

/// Reads the whole file at `path`, refusing it (without reading further) as soon as it
/// exceeds `limits`, and refusing file types that need not end.
public func readBoundedFile(_ path: String, limits: ReadLimits = .scenario) -> Result<[UInt8], BoundedReadError> {
    precondition(limits.maxBytes >= 0 && limits.maxLines >= 0, "readBoundedFile: negative limits")
    // O_NONBLOCK would make a FIFO's open return at once, but reads would then fail with
    // EAGAIN until a writer came; blocking like cat is simpler and documented.
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { return .failure(BoundedReadError(String(cString: strerror(errno)))) }
    defer { close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0 else { return .failure(BoundedReadError(String(cString: strerror(errno)))) }
    switch st.st_mode & S_IFMT {
    case S_IFREG, S_IFIFO: break
    case S_IFDIR: return .failure(BoundedReadError("it is a directory"))
    case S_IFCHR, S_IFBLK:
        return .failure(BoundedReadError("it is a device, not a regular file (a device such as /dev/zero need not end)"))
    default: return .failure(BoundedReadError("not a regular file or a FIFO"))
    }
    let limitText = "\(limits.maxBytes >> 20) MiB"
    if st.st_mode & S_IFMT == S_IFREG, Int(st.st_size) > limits.maxBytes {
        return .failure(BoundedReadError("the file is \(st.st_size) bytes, over the limit of \(limitText)"))
    }
    var bytes: [UInt8] = []
    if st.st_mode & S_IFMT == S_IFREG { bytes.reserveCapacity(Int(st.st_size)) }
    var lines = 0
    let chunkSize = 1 << 16
    var chunk = [UInt8](repeating: 0, count: chunkSize)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            return .failure(BoundedReadError(String(cString: strerror(errno))))
        }
        if n == 0 { break }
        guard bytes.count + n <= limits.maxBytes else {
            return .failure(BoundedReadError("more than \(limitText) (the limit for this file)"))
        }
        for b in chunk[0..<n] where b == 0x0A { lines += 1 }
        guard lines <= limits.maxLines else {
            return .failure(BoundedReadError("more than \(limits.maxLines) lines (the limit for this file)"))
        }
        bytes.append(contentsOf: chunk[0..<n])
    }
    if let last = bytes.last, last != 0x0A { lines += 1 }
    guard lines <= limits.maxLines else {
        return .failure(BoundedReadError("more than \(limits.maxLines) lines (the limit for this file)"))
    }
    return .success(bytes)
}
