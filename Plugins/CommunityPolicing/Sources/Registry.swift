import Foundation
import XunfangPluginKit
import CommunityPolicingContract

/// Teams and members, their ledgers, and the one way to their personal fields: a read
/// with a purpose, audited with the caller before it is answered. Everything else refers to
/// members by id.
struct Registry: Sendable {
    let store: CommunityStore
    let keys: SealingKeys
    let now: @Sendable () -> Int64

    func importLedger(_ request: Xunfang_Community_V1_ImportLedgerRequest, caller: String) throws -> Xunfang_Community_V1_ImportLedgerResponse {
        var response = Xunfang_Community_V1_ImportLedgerResponse()
        switch request.kind {
        case .teams:
            switch Ledger.teams(csv: request.csv) {
            case .failure(let rejection): response.errors = rejection.errors
            case .success(let teams):
                try store.put(teams: teams, audit: entry(caller, action: "import-teams", purpose: "\(teams.count) teams"))
                response.imported = UInt32(teams.count)
            }
        case .members:
            switch Ledger.members(csv: request.csv, teams: try store.teamIDs()) {
            case .failure(let rejection): response.errors = rejection.errors
            case .success(let rows):
                let sealed = try rows.map { row -> (member: Xunfang_Community_V1_Member, personal: Data?) in
                    (member: row.member, personal: try row.member.contactKept ? seal(row) : nil)
                }
                try store.put(members: sealed, audit: entry(caller, action: "import-members", purpose: "\(rows.count) members"))
                response.imported = UInt32(rows.count)
            }
        case .dutyPosts:
            switch Ledger.dutyPosts(csv: request.csv) {
            case .failure(let rejection): response.errors = rejection.errors
            case .success(let posts):
                try store.put(posts: posts, audit: entry(caller, action: "import-duty-posts", purpose: "\(posts.count) duty posts"))
                response.imported = UInt32(posts.count)
            }
        case .dutyRecords:
            switch Ledger.dutyRecords(csv: request.csv, places: DutyRules.places(try store.dutyPosts())) {
            case .failure(let rejection): response.errors = rejection.errors
            case .success(let records):
                try store.put(dutyRecords: records, audit: entry(caller, action: "import-duty-records", purpose: "\(records.count) duty records"))
                response.imported = UInt32(records.count)
            }
        default:
            throw BusClientError(.invalidArgument, "kind must be LEDGER_KIND_TEAMS, _MEMBERS, _DUTY_POSTS or _DUTY_RECORDS")
        }
        return response
    }

    /// Rows a page: 20,000 members of CSV or protobuf stay well inside a 4 MiB frame.
    static let pageRows = 20_000

    func exportLedger(_ request: Xunfang_Community_V1_ExportLedgerRequest) throws -> Xunfang_Community_V1_ExportLedgerResponse {
        let limit = try Self.pageLimit(request.limit, default: Self.pageRows)
        var response = Xunfang_Community_V1_ExportLedgerResponse()
        let ids: [String]
        switch request.kind {
        case .teams:
            let teams = Array(try store.teams().filter { $0.id > request.afterID }.prefix(limit))
            response.csv = Ledger.csv(teams)
            ids = teams.map(\.id)
        case .members:
            let members = try store.members(team: nil, after: request.afterID, limit: limit)
            response.csv = Ledger.csv(members)
            ids = members.map(\.id)
        default: throw BusClientError(.invalidArgument, "kind must be LEDGER_KIND_TEAMS or LEDGER_KIND_MEMBERS")
        }
        response.nextAfterID = ids.count == limit ? ids.last ?? "" : ""
        return response
    }

    static func pageLimit(_ limit: UInt32, default fallback: Int) throws -> Int {
        guard limit <= pageRows else { throw BusClientError(.invalidArgument, "limit \(limit) is above \(pageRows) a page; page on with after_id") }
        return limit == 0 ? fallback : Int(limit)
    }

    func teams(_ request: Xunfang_Community_V1_ListTeamsRequest) throws -> Xunfang_Community_V1_ListTeamsResponse {
        var response = Xunfang_Community_V1_ListTeamsResponse()
        response.teams = try store.teams(station: request.stationID.isEmpty ? nil : request.stationID)
        return response
    }

    func members(_ request: Xunfang_Community_V1_ListMembersRequest) throws -> Xunfang_Community_V1_ListMembersResponse {
        let limit = try Self.pageLimit(request.limit, default: 1_000)
        var response = Xunfang_Community_V1_ListMembersResponse()
        response.members = try store.members(team: request.teamID.isEmpty ? nil : request.teamID, after: request.afterID, limit: limit)
        response.nextAfterID = response.members.count == limit ? response.members.last?.id ?? "" : ""
        return response
    }

    func readContact(_ request: Xunfang_Community_V1_ReadContactRequest, caller: String) throws -> Xunfang_Community_V1_Contact {
        let purpose = request.purpose.trimmingCharacters(in: .whitespaces)
        guard (4...200).contains(purpose.count) else { throw BusClientError(.invalidArgument, "purpose is required (4 to 200 characters): it is audited") }
        guard request.onBehalfOf.count <= 64 else { throw BusClientError(.invalidArgument, "on_behalf_of is longer than 64 characters") }
        var audit = entry(caller, action: "read-contact", purpose: purpose)
        audit.memberID = request.memberID
        audit.onBehalfOf = request.onBehalfOf
        let (found, sealed) = try store.personal(of: request.memberID, audit: audit)
        guard found else { throw BusClientError(.notFound, "member \(request.memberID) does not exist") }
        var contact = Xunfang_Community_V1_Contact()
        contact.memberID = request.memberID
        if let sealed {
            let personal = try Xunfang_Community_V1_Contact(serializedBytes: try keys.open(sealed, boundTo: request.memberID))
            contact.name = personal.name
            contact.phone = personal.phone
        }
        return contact
    }

    /// The phones a batch of alerts goes to, by member: each read audited as the notifier's,
    /// with the alert it is for as the purpose.
    func phones(for alerts: [Xunfang_Community_V1_Alert], caller: String) throws -> [String: String] {
        let audits = alerts.map { alert in
            var audit = entry(caller, action: "read-contact", purpose: "SMS alert \(alert.id)")
            audit.memberID = alert.memberID
            return audit
        }
        var phones: [String: String] = [:]
        for (member, sealed) in try store.personal(audits: audits) {
            let phone = try Xunfang_Community_V1_Contact(serializedBytes: try keys.open(sealed, boundTo: member)).phone
            if !phone.isEmpty { phones[member] = phone }
        }
        return phones
    }

    func audit(_ request: Xunfang_Community_V1_AuditRequest) throws -> Xunfang_Community_V1_AuditResponse {
        guard request.limit <= 10_000 else { throw BusClientError(.invalidArgument, "limit \(request.limit) is above 10,000") }
        var response = Xunfang_Community_V1_AuditResponse()
        response.entries = try store.audit(member: request.memberID.isEmpty ? nil : request.memberID, since: request.since,
                                           limit: request.limit == 0 ? 100 : Int(request.limit))
        return response
    }

    /// A new key seals every member's personal fields again; the old keys are retired.
    func rotateKey(caller: String) throws -> Xunfang_Community_V1_RotateKeyResponse {
        let id = try keys.rotate()
        let resealed = try store.sealedPersonal().map { record -> (member: String, sealed: Data) in
            let plain = try keys.open(record.sealed, boundTo: record.member)
            return (member: record.member, sealed: try keys.seal(plain, boundTo: record.member))
        }
        try store.reseal(resealed, audit: entry(caller, action: "rotate-key", purpose: "key \(id), \(resealed.count) members resealed"))
        var response = Xunfang_Community_V1_RotateKeyResponse()
        response.keyID = id
        response.resealed = UInt32(resealed.count)
        response.retired = UInt32(try keys.retireOldKeys())
        return response
    }

    private func seal(_ row: Ledger.MemberRow) throws -> Data {
        var personal = Xunfang_Community_V1_Contact()
        personal.name = row.name
        personal.phone = row.phone
        return try keys.seal(try personal.serializedBytes(), boundTo: row.member.id)
    }

    private func entry(_ caller: String, action: String, purpose: String) -> Xunfang_Community_V1_AuditEntry {
        Xunfang_Community_V1_AuditEntry(at: now(), who: caller, action: action, purpose: purpose)
    }
}

extension Xunfang_Community_V1_AuditEntry {
    init(at time: Int64, who caller: String, action: String, member: String = "", purpose: String) {
        self.init()
        at = time
        who = caller
        self.action = action
        memberID = member
        self.purpose = purpose
    }
}
