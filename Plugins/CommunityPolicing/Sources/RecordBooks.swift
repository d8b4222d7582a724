import Crypto
import Foundation
import XunfangPluginKit
import CommunityPolicingContract

/// Teams' record books in the plugin: signers' public keys registered once, and every entry
/// checked on the way in (both signatures with the registered keys, the next number, the
/// link to the team's newest entry), so a book read back verifies whole.
struct RecordBooks: Sendable {
    let store: CommunityStore

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
        try store.put(signer: signer)
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
        let signers = Dictionary(uniqueKeysWithValues: try store.signers([record.memberID, record.officerID]).map { ($0.id, $0) })
        guard signers[record.memberID]?.role == .volunteer else { throw BusClientError(.failedPrecondition, "volunteer \(record.memberID) has no registered key") }
        guard signers[record.officerID]?.role == .officer else { throw BusClientError(.failedPrecondition, "officer \(record.officerID) has no registered key") }
        let keys = try RecordBook.keys(signers.mapValues { $0.publicKey.base64EncodedString() })
        let entry = RecordEntry(record)
        if let fault = RecordChain.signatureFault(entry, index: 0, keys: keys) {
            throw BusClientError(.invalidArgument, "refused: \(fault.reason)")
        }
        let hash = RecordChain.hash(entry)
        try store.append(record, hash: hash) { last in
            let expected = (seq: (last?.record.seq ?? 0) + 1, previous: last?.hash ?? RecordChain.genesis)
            guard record.seq == expected.seq, record.previous == expected.previous else {
                throw BusClientError(.failedPrecondition, "the book of \(record.teamID) is at entry \(expected.seq - 1): sign entry \(expected.seq) with previous \(expected.previous)")
            }
        }
        var response = Xunfang_Community_V1_AppendRecordResponse()
        response.seq = record.seq
        response.hash = hash
        return response
    }

    func list(_ request: Xunfang_Community_V1_ListRecordsRequest) throws -> Xunfang_Community_V1_ListRecordsResponse {
        let limit = try Registry.pageLimit(request.limit, default: Registry.pageRows)
        let (records, lastHash) = try store.records(team: request.teamID, afterSeq: request.afterSeq, limit: limit)
        var response = Xunfang_Community_V1_ListRecordsResponse()
        response.records = records
        response.signers = try store.signers(Set(records.flatMap { [$0.memberID, $0.officerID] }))
        response.lastHash = lastHash
        return response
    }
}

extension RecordEntry {
    init(_ record: Xunfang_Community_V1_Record) {
        self.init(team: record.teamID, seq: record.seq, at: record.at, kind: record.kind, text: record.text, member: record.memberID,
                  officer: record.officerID, previous: record.previous, memberSignature: record.memberSignature.base64EncodedString(),
                  officerSignature: record.officerSignature.base64EncodedString())
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
        record.memberSignature = Data(base64Encoded: memberSignature) ?? Data()
        record.officerSignature = Data(base64Encoded: officerSignature) ?? Data()
        return record
    }
}
