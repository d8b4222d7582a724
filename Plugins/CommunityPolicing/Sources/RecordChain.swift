import Crypto
import Synchronization
import Foundation
import XunfangPluginKit

/// A team's record book (patrol records, inspection records). Entries are chained: each
/// carries the SHA-256 of the one before, so none can be dropped, moved or inserted without
/// the check naming it. They are signed a page at a time, as a paper book is at the end of a
/// round: a page lists the hashes of its entries, and every volunteer and officer those
/// entries name signs it (Ed25519 over a canonical encoding). A changed entry no longer
/// matches its page's list; a changed list no longer matches the signatures.
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
}

/// A signed page of a team's book: the entries after the page before, up to `lastSeq`.
struct RecordPage: Codable, Equatable, Sendable {
    var team: String
    var number: Int64
    var firstSeq: Int64
    var lastSeq: Int64
    /// Hex SHA-256 of each entry, in order, as the signers saw them.
    var hashes: [String]
    /// Signer id → base64 Ed25519 signature of `RecordChain.body(page)`.
    var signatures: [String: String]
}

enum RecordChain {
    static let entryDomain = Data("xunfang.community.record.v2\u{0}".utf8)
    static let pageDomain = Data("xunfang.community.page.v1\u{0}".utf8)
    static let genesis = String(repeating: "0", count: 64)

    /// What an entry's hash covers: a domain tag, then every field, strings length-prefixed
    /// (4 bytes, big-endian), numbers 8 bytes big-endian.
    static func body(_ entry: RecordEntry) -> Data { encoding(entry).data }

    private static func encoding(_ entry: RecordEntry) -> CanonicalEncoding {
        var encoding = CanonicalEncoding(entryDomain)
        encoding.put(entry.team)
        encoding.put(entry.seq)
        encoding.put(entry.at)
        encoding.put(entry.kind)
        encoding.put(entry.text)
        encoding.put(entry.member)
        encoding.put(entry.officer)
        encoding.put(entry.previous)
        return encoding
    }

    /// What a page's signers sign: the same encoding of its team, number, range and hashes.
    static func body(_ page: RecordPage) -> Data {
        var encoding = CanonicalEncoding(pageDomain)
        encoding.put(page.team)
        encoding.put(page.number)
        encoding.put(page.firstSeq)
        encoding.put(page.lastSeq)
        encoding.put(Int64(page.hashes.count))
        for hash in page.hashes { encoding.put(hash) }
        return encoding.data
    }

    /// The link the next entry carries, and what its page lists.
    static func hash(_ entry: RecordEntry) -> String {
        hex(SHA256.hash(data: encoding(entry).bytes))
    }

    private static let digits = Array("0123456789abcdef".utf8)

    static func hex(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        text.reserveCapacity(64)
        for byte in bytes {
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The next entry after `last` (nil: the first).
    static func append(after last: RecordEntry?, team: String, at: Int64, kind: String, text: String, member: String, officer: String) -> RecordEntry {
        RecordEntry(team: team, seq: (last?.seq ?? 0) + 1, at: at, kind: kind, text: text, member: member, officer: officer,
                    previous: last.map(hash) ?? genesis)
    }

    /// Who must sign a page of these entries: each volunteer and officer they name, once.
    static func signers(of entries: some Collection<RecordEntry>) -> [(side: String, id: String)] {
        let volunteers = Set(entries.map(\.member)).sorted(), officers = Set(entries.map(\.officer)).sorted()
        return volunteers.map { ("volunteer", $0) } + officers.map { ("officer", $0) }
    }

    /// Page `number` over `entries` (the ones after the page before), signed with `keys`,
    /// which must hold a key for everyone the entries name.
    static func sign(_ entries: ArraySlice<RecordEntry>, number: Int64, keys: [String: Curve25519.Signing.PrivateKey]) throws -> RecordPage {
        guard let first = entries.first, let last = entries.last else { throw Fault(index: 0, seq: 0, reason: "a page needs at least one entry") }
        var page = RecordPage(team: first.team, number: number, firstSeq: first.seq, lastSeq: last.seq, hashes: entries.map(hash), signatures: [:])
        let signed = body(page)
        for (side, id) in signers(of: entries) {
            guard let key = keys[id] else { throw Fault(index: 0, seq: first.seq, reason: "no key to sign for the \(side) \(id)") }
            page.signatures[id] = try key.signature(for: signed).base64EncodedString()
        }
        return page
    }

    struct Fault: Error, Equatable, CustomStringConvertible {
        /// 0-based position in the book, and the entry's own number.
        let index: Int
        let seq: Int64
        let reason: String
        /// Set when the fault is a whole page's (a signature, the page's range), not one entry's.
        var page: Int64? = nil
        var description: String {
            page.map { "page \($0), from entry \(index + 1) (seq \(seq)): \(reason)" } ?? "entry \(index + 1) (seq \(seq)): \(reason)"
        }
    }

    /// Checks a team's book from its first entry: numbering, links, the pages' ranges and
    /// hash lists, and every signature a page needs, with the signers' registered keys.
    /// Returns the first bad entry (a page's fault counts at its first entry), nil when all
    /// hold. Entries after the last page are not signed yet; that is not a fault.
    /// Hashes and signatures are checked on every core; the chain in order.
    static func verify(_ entries: [RecordEntry], pages: [RecordPage], keys: [String: Curve25519.Signing.PublicKey]) -> Fault? {
        let hashes = concurrentMap(entries, hash)
        if let fault = chainFault(entries, hashes: hashes) { return earliest(fault, pageFault(pages, entries: entries, hashes: hashes, keys: keys)) }
        return pageFault(pages, entries: entries, hashes: hashes, keys: keys)
    }

    private static func earliest(_ one: Fault, _ other: Fault?) -> Fault {
        guard let other, other.index < one.index else { return one }
        return other
    }

    private static func chainFault(_ entries: [RecordEntry], hashes: [String]) -> Fault? {
        let team = entries.first?.team ?? ""
        for (index, entry) in entries.enumerated() {
            guard entry.team == team else { return Fault(index: index, seq: entry.seq, reason: "belongs to team \(entry.team), not \(team)") }
            guard entry.seq == Int64(index) + 1 else { return Fault(index: index, seq: entry.seq, reason: "numbered \(entry.seq) where \(index + 1) was due (an entry is missing or moved)") }
            guard entry.previous == (index == 0 ? genesis : hashes[index - 1]) else {
                return Fault(index: index, seq: entry.seq, reason: "does not link to the entry before (changed or reordered)")
            }
        }
        return nil
    }

    /// The first fault of the pages: their numbering and ranges in order, then each page's
    /// signatures (on every core), then its list against the entries' hashes.
    private static func pageFault(_ pages: [RecordPage], entries: [RecordEntry], hashes: [String], keys: [String: Curve25519.Signing.PublicKey]) -> Fault? {
        var next: Int64 = 1
        for (index, page) in pages.enumerated() {
            let at = max(0, min(Int(page.firstSeq) - 1, entries.count - 1)), seq = entries.isEmpty ? 0 : entries[at].seq
            func fault(_ reason: String) -> Fault { Fault(index: at, seq: seq, reason: reason, page: page.number) }
            guard page.number == Int64(index) + 1 else { return fault("numbered \(page.number) where page \(index + 1) was due") }
            guard page.team == entries.first?.team else { return fault("belongs to team \(page.team)") }
            guard page.firstSeq == next, page.lastSeq >= page.firstSeq else { return fault("covers entries \(page.firstSeq)–\(page.lastSeq) where the page before ended at \(next - 1)") }
            guard page.lastSeq <= Int64(entries.count) else { return fault("covers entries up to \(page.lastSeq) but the book has \(entries.count)") }
            guard page.hashes.count == Int(page.lastSeq - page.firstSeq + 1) else { return fault("lists \(page.hashes.count) hashes for \(page.lastSeq - page.firstSeq + 1) entries") }
            next = page.lastSeq + 1
        }
        let badSignatures = concurrentMap(pages) { page in signatureFault(page, entries: entries[Int(page.firstSeq - 1)..<Int(page.lastSeq)], keys: keys) }
        for (page, badSignature) in zip(pages, badSignatures) {
            if let badSignature { return badSignature }
            for index in Int(page.firstSeq - 1)..<Int(page.lastSeq) where hashes[index] != page.hashes[index - Int(page.firstSeq - 1)] {
                return Fault(index: index, seq: entries[index].seq, reason: "was changed after page \(page.number) was signed (its hash is not the one signed)")
            }
        }
        return nil
    }

    /// A page's own fault: a signer the entries name with no key, no signature or a wrong one.
    static func signatureFault(_ page: RecordPage, entries: ArraySlice<RecordEntry>, keys: [String: Curve25519.Signing.PublicKey]) -> Fault? {
        let body = body(page), first = entries.startIndex
        func fault(_ reason: String) -> Fault { Fault(index: first, seq: entries.first?.seq ?? page.firstSeq, reason: reason, page: page.number) }
        for (side, signer) in signers(of: entries) {
            guard let key = keys[signer] else { return fault("the \(side) \(signer) has no registered key") }
            guard let signature = page.signatures[signer] else { return fault("the \(side) \(signer) has not signed it") }
            guard let bytes = Data(base64Encoded: signature), key.isValidSignature(bytes, for: body) else {
                return fault("the \(side)'s signature (\(signer)) does not hold")
            }
        }
        return nil
    }

    /// `transform` over `items` on every core, in order; for pure work on big books.
    static func concurrentMap<Item: Sendable, Result: Sendable>(_ items: [Item], _ transform: @Sendable (Item) -> Result) -> [Result] {
        let chunks = max(1, min(items.count / 256, ProcessInfo.processInfo.activeProcessorCount * 4))
        let parts = Mutex<[Int: [Result]]>([:])
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let part = items[items.count * chunk / chunks..<items.count * (chunk + 1) / chunks].map(transform)
            parts.withLock { $0[chunk] = part }
        }
        return parts.withLock { parts in (0..<chunks).flatMap { parts[$0] ?? [] } }
    }
}

/// Length-prefixed strings and big-endian numbers after a domain tag: the bytes hashed and
/// signed, the same on every machine and in every language.
struct CanonicalEncoding {
    private(set) var bytes: [UInt8]
    var data: Data { Data(bytes) }

    init(_ domain: Data) {
        bytes = Array(domain)
        bytes.reserveCapacity(256)
    }

    mutating func put(_ text: String) {
        var text = text
        text.withUTF8 { utf8 in
            put(UInt32(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    mutating func put(_ number: Int64) { withUnsafeBytes(of: number.bigEndian) { bytes.append(contentsOf: $0) } }

    private mutating func put(_ length: UInt32) { withUnsafeBytes(of: length.bigEndian) { bytes.append(contentsOf: $0) } }
}

/// A record book as a file: the entries, their signed pages and the signers' public keys
/// (raw Ed25519, base64). `xunfang community verify` checks one against the keys in it or,
/// better, against keys kept apart from it (`--keys`): keys inside the file prove only that
/// it is consistent.
struct RecordBook: Codable {
    var signers: [String: String]
    var entries: [RecordEntry]
    var pages: [RecordPage]

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
    Checks a record book: numbering, the chain of hashes, and every signed page (its list of
    hashes, and the signature of each volunteer and officer its entries name), with the
    signers' keys from KEYS.json ({"M-000001": "<base64 Ed25519 public key>", ...}) or,
    without it, the keys inside the book. Exit 0 when every entry holds (entries after the
    last page are counted as not signed yet); otherwise exit 1 naming the first bad entry
    and why.
    """

    static func run(_ arguments: [String]) -> Int32 {
        guard let options = commandOptions(arguments, allowed: ["--file", "--keys"]), let path = options["--file"] else { return fail(usage) }
        switch check(path, keys: options["--keys"]) {
        case .success(let summary):
            print(summary)
            return 0
        case .failure(let problem):
            return fail(problem.message)
        }
    }

    struct Problem: Error { let message: String }

    /// The verdict on the book at `path`: a one-line summary when it holds.
    static func check(_ path: String, keys keysPath: String?) -> Result<String, Problem> {
        do {
            guard let data = FileManager.default.contents(atPath: path) else { return .failure(Problem(message: "cannot read \(path)")) }
            let book = try JSONDecoder().decode(RecordBook.self, from: data)
            var encodedKeys = book.signers
            if let keysPath {
                guard let keyData = FileManager.default.contents(atPath: keysPath) else { return .failure(Problem(message: "cannot read \(keysPath)")) }
                encodedKeys = try JSONDecoder().decode([String: String].self, from: keyData)
            }
            if let fault = RecordChain.verify(book.entries, pages: book.pages, keys: try RecordBook.keys(encodedKeys)) {
                return .failure(Problem(message: "\(path): \(fault) — the entries before it hold"))
            }
            let unsigned = book.entries.count - Int(book.pages.last?.lastSeq ?? 0)
            return .success("\(path): \(book.entries.count) entries on \(book.pages.count) signed pages, every signature and link holds"
                + (unsigned > 0 ? "; the last \(unsigned) not signed yet" : "")
                + (keysPath == nil ? " (with the keys inside the book)" : ""))
        } catch let error as DecodingError {
            return .failure(Problem(message: "\(path) is not a record book: \(error)"))
        } catch {
            return .failure(Problem(message: "\(error)"))
        }
    }

    static func fail(_ message: String) -> Int32 {
        FileHandle.standardError.write(Data("xunfang community verify: \(message)\n".utf8))
        return 1
    }
}
