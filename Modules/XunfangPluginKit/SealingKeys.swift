public import Foundation
import Crypto
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A refusal of the sealing keys: a key file that cannot be trusted, or a record that
/// does not open. Messages name the file or the reason, never key material.
public struct SealingError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// The keys a plugin seals personal data with at rest (AES-256-GCM).
///
/// The key file holds one key a line, `<id> <base64 of 32 bytes>`; the last line seals,
/// every line opens, so a rotation appends a key, seals every record again, and then
/// retires the old lines. The file must be the owner's alone (0600): a file others may
/// read is refused rather than used. It is created on first use. Keep it out of the
/// data directory's backups if the backups leave the server (see docs/operations.md).
///
/// A sealed record is `0x01 | key id (4 bytes, big-endian) | nonce | ciphertext | tag`,
/// bound to a context string (e.g. the incident id), so a record copied onto another
/// row does not open.
public final class SealingKeys: Sendable {
    public let path: String
    private let keys: Mutex<[(id: UInt32, key: SymmetricKey)]>

    static let version: UInt8 = 1

    public init(path: String) throws(SealingError) {
        self.path = path
        if !FileManager.default.fileExists(atPath: path) {
            try Self.write([(1, SymmetricKey(size: .bits256))], to: path)
        }
        keys = Mutex(try Self.read(path))
    }

    /// The id of the key that seals now.
    public var currentID: UInt32 { keys.withLock { $0.last!.id } }

    public var keyIDs: [UInt32] { keys.withLock { $0.map(\.id) } }

    public func seal(_ plaintext: Data, boundTo context: String) throws(SealingError) -> Data {
        let (id, key) = keys.withLock { $0.last! }
        do {
            let box = try AES.GCM.seal(plaintext, using: key, authenticating: Data(context.utf8))
            var sealed = Data([Self.version])
            withUnsafeBytes(of: id.bigEndian) { sealed.append(contentsOf: $0) }
            sealed.append(box.combined!)
            return sealed
        } catch {
            throw SealingError("cannot seal: \(error)")
        }
    }

    public func open(_ sealed: Data, boundTo context: String) throws(SealingError) -> Data {
        guard let id = Self.keyID(of: sealed) else { throw SealingError("not a sealed record (version or length)") }
        guard let key = keys.withLock({ $0.first { $0.id == id }?.key }) else {
            throw SealingError("sealed with key \(id), which is not in \(path) (retired, or the wrong key file)")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.dropFirst(5))
            return try AES.GCM.open(box, using: key, authenticating: Data(context.utf8))
        } catch {
            throw SealingError("the record does not open with key \(id): damaged, or bound to another row")
        }
    }

    public static func keyID(of sealed: Data) -> UInt32? {
        guard sealed.count >= 5 + 12 + 16, sealed.first == version else { return nil }
        return sealed.dropFirst().prefix(4).reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Appends a fresh key that seals from now on; the old ones still open.
    @discardableResult
    public func rotate() throws(SealingError) -> UInt32 {
        try keys.withLock { (keys) throws(SealingError) -> UInt32 in
            let next = keys.map(\.id).max()! + 1
            let updated = keys + [(next, SymmetricKey(size: .bits256))]
            try Self.write(updated, to: path)
            keys = updated
            return next
        }
    }

    /// Deletes every key but the current one from the file; call it once nothing is
    /// sealed under them. Returns how many were deleted.
    @discardableResult
    public func retireOldKeys() throws(SealingError) -> Int {
        try keys.withLock { (keys) throws(SealingError) -> Int in
            let kept = [keys.last!]
            try Self.write(kept, to: path)
            defer { keys = kept }
            return keys.count - 1
        }
    }

    // MARK: - The file

    private static func read(_ path: String) throws(SealingError) -> [(id: UInt32, key: SymmetricKey)] {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SealingError("cannot read the key file \(path)") }
        guard info.st_mode & 0o077 == 0 else {
            throw SealingError("the key file \(path) may be read by others (mode \(String(info.st_mode & 0o777, radix: 8))); chmod 600 it")
        }
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { throw SealingError("cannot read the key file \(path)") }
        var keys: [(id: UInt32, key: SymmetricKey)] = []
        for (number, line) in text.split(separator: "\n").enumerated() where !line.hasPrefix("#") {
            let fields = line.split(separator: " ")
            guard fields.count == 2, let id = UInt32(fields[0]), let bytes = Data(base64Encoded: String(fields[1])), bytes.count == 32,
                  !keys.contains(where: { $0.id == id }) else {
                throw SealingError("\(path) line \(number + 1): expected \"<id> <base64 of 32 bytes>\" with an id used once")
            }
            keys.append((id, SymmetricKey(data: bytes)))
        }
        guard !keys.isEmpty else { throw SealingError("the key file \(path) holds no key") }
        return keys
    }

    /// Writes the whole file beside itself and renames it over, so a crash leaves the old or the new file.
    private static func write(_ keys: [(id: UInt32, key: SymmetricKey)], to path: String) throws(SealingError) {
        var text = "# Xunfang sealing keys: the last line seals, every line opens. Keep this file 0600 and out of shared backups.\n"
        for (id, key) in keys {
            text += "\(id) \(key.withUnsafeBytes { Data($0) }.base64EncodedString())\n"
        }
        let temporary = path + ".new"
        let descriptor = Glibc.open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw SealingError("cannot write the key file \(temporary): errno \(errno)") }
        let bytes = Array(text.utf8)
        let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard written == bytes.count, synced == 0, rename(temporary, path) == 0 else {
            unlink(temporary)
            throw SealingError("cannot write the key file \(path): errno \(errno)")
        }
    }
}
