import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A failed file operation of the durable log, with the errno that explains it.
public struct SegmentFileError: Error, CustomStringConvertible {
    public let operation: String
    public let path: String
    public let code: Int32

    public init(_ operation: String, _ path: String, code: Int32) {
        self.operation = operation
        self.path = path
        self.code = code
    }

    public var description: String { "\(operation) \(path): \(String(cString: strerror(code))) (errno \(code))" }
    public var isOutOfSpace: Bool { code == ENOSPC || code == EDQUOT }
}

/// The durable log's writes, as one seam: the system's calls in production, a
/// fault-injecting wrapper in tests (full disk, failing fdatasync).
public protocol SegmentFiles: Sendable {
    /// Opens a segment for appending (close-on-exec), creating it if asked.
    func openForAppend(_ path: String, create: Bool) throws -> Int32
    /// Writes all of `bytes` or throws; a failure may leave part of them written.
    func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws
    func sync(_ descriptor: Int32, path: String) throws
    func truncate(_ descriptor: Int32, to length: Int, path: String) throws
    func close(_ descriptor: Int32)
    func remove(_ path: String) throws
    /// Makes a new or removed directory entry durable.
    func syncDirectory(_ path: String)
}

public struct SystemSegmentFiles: SegmentFiles {
    public init() {}

    public func openForAppend(_ path: String, create: Bool) throws -> Int32 {
        let descriptor = Glibc.open(path, O_WRONLY | O_APPEND | O_CLOEXEC | (create ? O_CREAT : 0), 0o600)
        guard descriptor >= 0 else { throw SegmentFileError("open", path, code: errno) }
        return descriptor
    }

    public func write(_ descriptor: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var offset = 0
        while offset < bytes.count {
            let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                throw SegmentFileError("write", path, code: errno)
            }
            offset += written
        }
    }

    public func sync(_ descriptor: Int32, path: String) throws {
        guard fdatasync(descriptor) == 0 else { throw SegmentFileError("fdatasync", path, code: errno) }
    }

    public func truncate(_ descriptor: Int32, to length: Int, path: String) throws {
        guard ftruncate(descriptor, off_t(length)) == 0 else { throw SegmentFileError("ftruncate", path, code: errno) }
    }

    public func close(_ descriptor: Int32) {
        _ = Glibc.close(descriptor)
    }

    public func remove(_ path: String) throws {
        guard unlink(path) == 0 || errno == ENOENT else { throw SegmentFileError("unlink", path, code: errno) }
    }

    public func syncDirectory(_ path: String) {
        let descriptor = Glibc.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { return }
        _ = fsync(descriptor)
        _ = Glibc.close(descriptor)
    }
}
