import Crypto
import Foundation
import XunfangPluginKit
import CommunityPolicingContract

/// Teams' record books in the plugin: signers' public keys registered once, entries appended
/// in number and linked to the team's newest one, and pages taken only when their hashes are
/// the book's and every signer the entries name has signed with a registered key, so a book
/// read back verifies whole.
struct RecordBooks: Sendable {
    let store: CommunityStore
    /// The most entries one page covers (a round's records, not a year's).
    static let pageEntries: Int64 = 5_000

    func register(_ signer: Xunfang_Community_V1_Signer) throws -> Xunfang_Community_V1_SignerResponse {
        guard (1...64).contains(signer.id.count), signer.id.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
            throw BusClientError(.invalidArgument, "signer id must be 1 to 64 letters, digits, - or _")
        }
        guard (try? Curve25519.Signing.PublicKey(rawRepresentation: signer.publicKey)) != nil else {
            throw BusClientError(.invalidArgument, "public_key must be a raw Ed25519 key of 32 bytes")
        }
        switch signer.role {
        case .volunteer: guard try store.member(signer.id) != nil else { throw BusClientError(.notFound, "member \(signer.id) is not in the ledger") }
        case .officer: break
        default: throw BusClientError(.invalidArgument, "role must be SIGNER_ROLE_VOLUNTEER or SIGNER_ROLE_OFFICER")
        }
        guard try store.put(signer: signer) else {
            throw BusClientError(.failedPrecondition, "\(signer.id) has another key already: the pages signed with it must stay verifiable, so a key is never replaced")
        }
        var response = Xunfang_Community_V1_SignerResponse()
        response.signer = signer
        return response
    }

    func append(_ record: Xunfang_Community_V1_Record) throws -> Xunfang_Community_V1_AppendRecordResponse {
        guard ["patrol", "inspection"].contains(record.kind) else { throw BusClientError(.invalidArgument, "kind must be patrol or inspection") }
        guard (1...2_000).contains(record.text.count) else { throw BusClientError(.invalidArgument, "text must be 1 to 2,000 characters") }
        guard let member = try store.member(record.memberID), member.teamID == record.teamID else {
            throw BusClientError(.invalidArgument, "member \(record.memberID) is not in team \(record.teamID)")
        }
        try requireKeys(for: [("volunteer", record.memberID), ("officer", record.officerID)])
        let hash = RecordChain.hash(RecordEntry(record))
        try store.append(record, hash: hash) { last in
            let expected = (seq: (last?.record.seq ?? 0) + 1, previous: last?.hash ?? RecordChain.genesis)
            guard record.seq == expected.seq, record.previous == expected.previous else {
                throw BusClientError(.failedPrecondition, "the book of \(record.teamID) is at entry \(expected.seq - 1): write entry \(expected.seq) with previous \(expected.previous)")
            }
        }
        var response = Xunfang_Community_V1_AppendRecordResponse()
        response.seq = record.seq
        response.hash = hash
        return response
    }

    /// Takes the next page of a team's book: it starts after the page before, lists the
    /// book's own hashes, and carries a valid signature of everyone its entries name.
    func sign(_ request: Xunfang_Community_V1_RecordPage) throws -> Xunfang_Community_V1_SignPageResponse {
        let count = request.lastSeq - request.firstSeq + 1
        guard request.firstSeq >= 1, (1...Self.pageEntries).contains(count) else {
            throw BusClientError(.invalidArgument, "a page covers 1 to \(Self.pageEntries) entries, first_seq to last_seq")
        }
        guard request.entryHashes.count == count, request.entryHashes.allSatisfy({ $0.count == 32 }) else {
            throw BusClientError(.invalidArgument, "entry_hashes must hold one 32-byte SHA-256 for each of the \(count) entries")
        }
        guard request.signatures.count <= 64, Set(request.signatures.map(\.signerID)).count == request.signatures.count else {
            throw BusClientError(.invalidArgument, "at most 64 signatures, one a signer")
        }
        let (lastPage, entries) = try store.unsignedRecords(team: request.teamID, from: request.firstSeq, to: request.lastSeq)
        let expected = (number: (lastPage?.number ?? 0) + 1, firstSeq: (lastPage?.lastSeq ?? 0) + 1)
        guard request.number == expected.number, request.firstSeq == expected.firstSeq else {
            throw BusClientError(.failedPrecondition, "the book of \(request.teamID) is signed up to entry \(expected.firstSeq - 1): sign page \(expected.number) from entry \(expected.firstSeq)")
        }
        guard entries.count == count else {
            throw BusClientError(.failedPrecondition, "the book of \(request.teamID) has no entry \(request.firstSeq + Int64(entries.count)) yet")
        }
        let page = RecordPage(request)
        if let changed = zip(entries, page.hashes).first(where: { $0.0.hash != $0.1 }) {
            throw BusClientError(.failedPrecondition, "entry \(changed.0.record.seq) is not the one in the book (its hash differs)")
        }
        let book = entries.map { RecordEntry($0.record) }
        let keys = try requireKeys(for: RecordChain.signers(of: book))
        if let fault = RecordChain.signatureFault(page, entries: book[...], keys: keys) {
            throw BusClientError(.invalidArgument, "refused: \(fault.reason)")
        }
        guard try store.put(page: request, after: expected.number - 1) else {
            throw BusClientError(.failedPrecondition, "page \(request.number) of \(request.teamID) was signed meanwhile")
        }
        var response = Xunfang_Community_V1_SignPageResponse()
        response.number = request.number
        response.lastSeq = request.lastSeq
        return response
    }

    /// The registered keys of these signers, each with the role of its side.
    @discardableResult
    private func requireKeys(for signers: [(side: String, id: String)]) throws -> [String: Curve25519.Signing.PublicKey] {
        let registered = Dictionary(uniqueKeysWithValues: try store.signers(Set(signers.map(\.id))).map { ($0.id, $0) })
        for (side, id) in signers where registered[id]?.role != (side == "volunteer" ? .volunteer : .officer) {
            throw BusClientError(.failedPrecondition, "\(side) \(id) has no registered key")
        }
        return try RecordBook.keys(registered.mapValues { $0.publicKey.base64EncodedString() })
    }

    func list(_ request: Xunfang_Community_V1_ListRecordsRequest) throws -> Xunfang_Community_V1_ListRecordsResponse {
        let limit = try Registry.pageLimit(request.limit, default: Registry.pageRows)
        let (records, pages, lastHash) = try store.records(team: request.teamID, afterSeq: request.afterSeq, limit: limit)
        var response = Xunfang_Community_V1_ListRecordsResponse()
        response.records = records
        response.pages = pages
        response.signers = try store.signers(Set(records.flatMap { [$0.memberID, $0.officerID] }))
        response.lastHash = lastHash
        return response
    }
}

extension RecordEntry {
    init(_ record: Xunfang_Community_V1_Record) {
        self.init(team: record.teamID, seq: record.seq, at: record.at, kind: record.kind, text: record.text, member: record.memberID,
                  officer: record.officerID, previous: record.previous)
    }

    var record: Xunfang_Community_V1_Record {
        var record = Xunfang_Community_V1_Record()
        record.teamID = team
        record.seq = seq
        record.at = at
        record.kind = kind
        record.text = text
        record.memberID = member
        record.officerID = officer
        record.previous = previous
        return record
    }
}

extension RecordPage {
    init(_ page: Xunfang_Community_V1_RecordPage) {
        self.init(team: page.teamID, number: page.number, firstSeq: page.firstSeq, lastSeq: page.lastSeq, hashes: page.entryHashes.map(RecordChain.hex),
                  signatures: Dictionary(page.signatures.map { ($0.signerID, $0.signature.base64EncodedString()) }, uniquingKeysWith: { first, _ in first }))
    }

    var message: Xunfang_Community_V1_RecordPage {
        var page = Xunfang_Community_V1_RecordPage()
        page.teamID = team
        page.number = number
        page.firstSeq = firstSeq
        page.lastSeq = lastSeq
        page.entryHashes = hashes.map { Data(hexDigest: $0) }
        page.signatures = signatures.sorted { $0.key < $1.key }.map { id, signature in
            var entry = Xunfang_Community_V1_PageSignature()
            entry.signerID = id
            entry.signature = Data(base64Encoded: signature) ?? Data()
            return entry
        }
        return page
    }
}

extension Data {
    /// The bytes of a lowercase hex digest; an odd or foreign character ends it.
    init(hexDigest text: String) {
        var bytes: [UInt8] = []
        var high: UInt8?
        for character in text.utf8 {
            guard let nibble = character >= 48 && character <= 57 ? character - 48 : character >= 97 && character <= 102 ? character - 87 : nil else { break }
            if let pending = high { bytes.append(pending << 4 | nibble); high = nil } else { high = nibble }
        }
        self.init(bytes)
    }
}
