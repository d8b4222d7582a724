import Crypto
import Synchronization
import Foundation
import XunfangPluginKit

/// A team's record book (patrol records, inspection records): every entry co-signed by the
/// volunteer and the officer (Ed25519 over a canonical encoding), and chained: each entry
/// carries the SHA-256 of the one before, signatures included, so no entry can be changed,
/// dropped, reordered or re-signed by one side alone without the check naming it.
struct RecordEntry: Codable, Equatable, Sendable {
    var team: String
    var seq: Int64
    /// Unix ms.
    var at: Int64
    /// "patrol" or "inspection".
    var kind: String
    var text: String
    var member: String
    var officer: String
    /// Hex SHA-256 of the entry before; 64 zeros for the first.
    var previous: String
    /// Base64 Ed25519 signatures of `RecordChain.body`.
    var memberSignature: String
    var officerSignature: String
}

enum RecordChain {
    static let domain = Data("xunfang.community.record.v1\u{0}".utf8)
    static let genesis = String(repeating: "0", count: 64)

    /// What is signed: a domain tag, then every field but the signatures, strings length-
    /// prefixed (4 bytes, big-endian), numbers 8 bytes big-endian.
    static func body(_ entry: RecordEntry) -> Data {
        var data = domain
        func put(_ text: String) {
            let bytes = Data(text.utf8)
            withUnsafeBytes(of: UInt32(bytes.count).bigEndian) { data.append(contentsOf: $0) }
            data.append(bytes)
        }
        func put(_ number: Int64) { withUnsafeBytes(of: number.bigEndian) { data.append(contentsOf: $0) } }
        put(entry.team)
        put(entry.seq)
        put(entry.at)
        put(entry.kind)
        put(entry.text)
        put(entry.member)
        put(entry.officer)
        put(entry.previous)
        return data
    }

    /// The link the next entry carries: the body and both signatures.
    static func hash(_ entry: RecordEntry) -> String {
        var hasher = SHA256()
        hasher.update(data: body(entry))
        hasher.update(data: Data(entry.memberSignature.utf8))
        hasher.update(data: Data(entry.officerSignature.utf8))
        return hex(hasher.finalize())
    }

    private static let digits = Array("0123456789abcdef".utf8)

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The next entry after `last` (nil: the first), signed by both sides.
    static func append(after last: RecordEntry?, team: String, at: Int64, kind: String, text: String,
                       member: (id: String, key: Curve25519.Signing.PrivateKey), officer: (id: String, key: Curve25519.Signing.PrivateKey)) throws -> RecordEntry {
        var entry = RecordEntry(team: team, seq: (last?.seq ?? 0) + 1, at: at, kind: kind, text: text, member: member.id, officer: officer.id,
                                previous: last.map(hash) ?? genesis, memberSignature: "", officerSignature: "")
        let signed = body(entry)
        entry.memberSignature = try member.key.signature(for: signed).base64EncodedString()
        entry.officerSignature = try officer.key.signature(for: signed).base64EncodedString()
        return entry
    }

    struct Fault: Error, Equatable, CustomStringConvertible {
        /// 0-based position in the book, and the entry's own number.
        let index: Int
        let seq: Int64
        let reason: String
        var description: String { "entry \(index + 1) (seq \(seq)): \(reason)" }
    }

    /// Checks a team's book from its first entry: numbering, links, both signatures with
    /// the signers' registered keys. Returns the first bad entry, nil when all hold.
    /// Signatures are checked on every core; the chain in order.
    static func verify(_ entries: [RecordEntry], keys: [String: Curve25519.Signing.PublicKey]) -> Fault? {
        let firstBadSignature = Mutex<Fault?>(nil)
        let chunks = max(1, min(entries.count / 512, ProcessInfo.processInfo.activeProcessorCount * 4))
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let range = entries.count * chunk / chunks..<entries.count * (chunk + 1) / chunks
            for index in range {
                if let fault = signatureFault(entries[index], index: index, keys: keys) {
                    firstBadSignature.withLock { if $0 == nil || $0!.index > index { $0 = fault } }
                    return
                }
            }
        }
        var previous = genesis, team = entries.first?.team ?? ""
        for (index, entry) in entries.enumerated() {
            if let fault = firstBadSignature.withLock({ $0 }), fault.index <= index { return fault }
            guard entry.team == team else { return Fault(index: index, seq: entry.seq, reason: "belongs to team \(entry.team), not \(team)") }
            guard entry.seq == Int64(index) + 1 else { return Fault(index: index, seq: entry.seq, reason: "numbered \(entry.seq) where \(index + 1) was due (an entry is missing or moved)") }
            guard entry.previous == previous else { return Fault(index: index, seq: entry.seq, reason: "does not link to the entry before (changed or reordered)") }
            previous = hash(entry)
        }
        return firstBadSignature.withLock { $0 }
    }

    static func signatureFault(_ entry: RecordEntry, index: Int, keys: [String: Curve25519.Signing.PublicKey]) -> Fault? {
        let body = body(entry)
        for (side, signer, signature) in [("volunteer", entry.member, entry.memberSignature), ("officer", entry.officer, entry.officerSignature)] {
            guard let key = keys[signer] else { return Fault(index: index, seq: entry.seq, reason: "the \(side) \(signer) has no registered key") }
            guard let bytes = Data(base64Encoded: signature), key.isValidSignature(bytes, for: body) else {
                return Fault(index: index, seq: entry.seq, reason: "the \(side)'s signature (\(signer)) does not hold")
            }
        }
        return nil
    }
}

/// A record book as a file: the entries and the signers' public keys (raw Ed25519, base64).
/// `xunfang community verify` checks one against the keys in it or, better, against keys
/// kept apart from it (`--keys`): keys inside the file prove only that it is consistent.
struct RecordBook: Codable {
    var signers: [String: String]
    var entries: [RecordEntry]

    static func keys(_ encoded: [String: String]) throws -> [String: Curve25519.Signing.PublicKey] {
        try encoded.mapValues { text in
            guard let raw = Data(base64Encoded: text) else { throw RecordChain.Fault(index: -1, seq: 0, reason: "a signer key is not base64") }
            return try Curve25519.Signing.PublicKey(rawRepresentation: raw)
        }
    }
}

enum VerifyCommand {
    static let usage = """
    usage: xunfang community verify --file BOOK.json [--keys KEYS.json]
    Checks a record book: numbering, the chain of hashes, and both signatures of every entry,
    with the signers' keys from KEYS.json ({"M-000001": "<base64 Ed25519 public key>", ...})
    or, without it, the keys inside the book. Exit 0 when every entry holds; otherwise exit 1
    naming the first bad entry and why.
    """

    static func run(_ arguments: [String]) -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--file", "--keys"]), let path = options["--file"] else { return fail(usage) }
        do {
            guard let data = FileManager.default.contents(atPath: path) else { return fail("cannot read \(path)") }
            let book = try JSONDecoder().decode(RecordBook.self, from: data)
            var encodedKeys = book.signers
            if let keysPath = options["--keys"] {
                guard let keyData = FileManager.default.contents(atPath: keysPath) else { return fail("cannot read \(keysPath)") }
                encodedKeys = try JSONDecoder().decode([String: String].self, from: keyData)
            }
            if let fault = RecordChain.verify(book.entries, keys: try RecordBook.keys(encodedKeys)) {
                return fail("\(path): \(fault) — the entries before it hold")
            }
            print("\(path): \(book.entries.count) entries, every signature and link holds" + (options["--keys"] == nil ? " (with the keys inside the book)" : ""))
            return 0
        } catch let error as DecodingError {
            return fail("\(path) is not a record book: \(error)")
        } catch {
            return fail("\(error)")
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang community verify: \(message)\n".utf8))
        return 1
    }
}
