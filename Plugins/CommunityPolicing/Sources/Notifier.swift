public import Foundation
import Glibc
public import CommunityPolicingContract
import XunfangPluginKit

/// An issued alert and its CAP 1.2 document, as a notifier gets it.
public struct DeliverableAlert: Sendable {
    public let alert: Xunfang_Community_V1_Alert
    public let cap: String
}

/// Takes due alerts to the members: an outbox directory, an SMS gateway. After a crash it
/// may be handed alerts it already took; it must then not deliver them twice (the alert id
/// is the key). Throwing leaves the whole batch to be handed again. Two batches (never
/// sharing an alert) may be with it at once.
public protocol AlertNotifier: Sendable {
    func deliver(_ batch: [DeliverableAlert]) async throws
}

/// The default notifier: each alert's CAP document as `<id>.xml` in a directory that a
/// county's own sender (SMS, app push, radio) picks up. Written as a nameless file and then
/// linked under its name (O_TMPFILE), so a reader never sees half a document and the
/// directory takes one entry a file; where the file system cannot, and for a repeat (the
/// name is taken), written to a temporary name and renamed over it by the same bytes. The
/// file system is synced once a batch, before the batch counts as delivered. Writing and
/// syncing block, so they run on a thread of their own, not on Swift concurrency's few.
/// Like everything the stack writes, the directory is 0700 and the files 0600: the sender
/// runs as the stack's own user.
public struct OutboxDirectoryNotifier: AlertNotifier {
    public let directory: String

    public init(directory: String) throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    public func deliver(_ batch: [DeliverableAlert]) async throws {
        try await onOwnThread { try writeAndSync(batch) }
    }

    private func writeAndSync(_ batch: [DeliverableAlert]) throws {
        for item in batch {
            let final = "\(directory)/\(item.alert.id).xml"
            if try linkNameless(item.cap, as: final) { continue }
            let temporary = "\(directory)/.\(item.alert.id).xml.part"
            let descriptor = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
            guard descriptor >= 0 else { throw NotifierError("cannot write \(temporary): \(String(cString: strerror(errno)))") }
            defer { close(descriptor) }
            try write(item.cap, to: descriptor, path: temporary)
            guard rename(temporary, final) == 0 else { throw NotifierError("cannot rename \(temporary): \(String(cString: strerror(errno)))") }
        }
        let descriptor = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard descriptor >= 0 else { throw NotifierError("cannot open \(directory): \(String(cString: strerror(errno)))") }
        defer { close(descriptor) }
        guard syncfs(descriptor) == 0 else { throw NotifierError("cannot sync \(directory): \(String(cString: strerror(errno)))") }
    }
}

/// Linux's syncfs(2), which Glibc's Swift overlay does not declare: one flush of the file
/// system for a whole batch instead of an fsync a file.
@_silgen_name("syncfs") private func syncfs(_ descriptor: Int32) -> Int32

extension OutboxDirectoryNotifier {
    /// `text` as a nameless file in the directory, linked as `path`; false when the file
    /// system has no nameless files or `path` exists (the caller renames over it instead).
    private func linkNameless(_ text: String, as path: String) throws -> Bool {
        let descriptor = open(directory, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else {
            if [EOPNOTSUPP, EISDIR, EINVAL].contains(errno) { return false }
            throw NotifierError("cannot write in \(directory): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        try write(text, to: descriptor, path: path)
        guard linkat(AT_FDCWD, "/proc/self/fd/\(descriptor)", AT_FDCWD, path, AT_SYMLINK_FOLLOW) == 0 else {
            if errno == EEXIST || errno == ENOENT { return false }   // a repeat, or no /proc
            throw NotifierError("cannot link \(path): \(String(cString: strerror(errno)))")
        }
        return true
    }
}

/// O_TMPFILE (open(2)), a macro Glibc's Swift overlay does not carry.
private let O_TMPFILE = Int32(0o20_000_000) | O_DIRECTORY

/// Writes all of `text` to `descriptor` (the file `path`, for errors).
private func write(_ text: String, to descriptor: Int32, path: String) throws {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        if written < 0 && errno == EINTR { continue }
        guard written > 0 else { throw NotifierError("cannot write \(path): \(String(cString: strerror(errno)))") }
        bytes = bytes.dropFirst(written)
    }
}

public struct NotifierError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
