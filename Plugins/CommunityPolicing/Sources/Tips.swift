import Foundation
import XunfangPluginKit
import CommunityPolicingContract

/// Where a tip may go from each state: verified before it is forwarded, dismissed from any
/// open state, and nothing after forwarded or dismissed.
enum TipFlow {
    typealias Status = Xunfang_Community_V1_TipStatus

    static func next(_ status: Status) -> [Status] {
        switch status {
        case .submitted: [.verifying, .dismissed]
        case .verifying: [.verified, .dismissed]
        case .verified: [.forwarded, .dismissed]
        default: []
        }
    }

    static func check(from: Status, to: Status) throws(BusClientError) {
        guard next(from).contains(to) else {
            let allowed = next(from).map(name).joined(separator: " or ")
            throw BusClientError(.failedPrecondition, "a \(name(from)) tip cannot become \(name(to))" + (allowed.isEmpty ? "; it is closed" : "; it may become \(allowed)"))
        }
    }

    static func name(_ status: Status) -> String {
        switch status {
        case .submitted: "submitted"
        case .verifying: "verifying"
        case .verified: "verified"
        case .forwarded: "forwarded"
        case .dismissed: "dismissed"
        default: "unspecified"
        }
    }
}

/// Tips from members: kept as submitted (a trusted reporter's verified at once), moved
/// through TipFlow with who and why, forwarded to Dispatch, and shown to the public without
/// text or reporter, the place blurred to a cell.
struct Tips: Sendable {
    let store: CommunityStore
    let now: @Sendable () -> Int64
    /// A member at least this reliable is a trusted reporter.
    var trustedReliability = 0.9
    /// The side of the public view's blur cell.
    var blurMetres = 500.0
    static let pageDefault = 500
    static let automatic = "community"

    func submit(_ request: Xunfang_Community_V1_SubmitTipRequest) throws -> Xunfang_Community_V1_TipResponse {
        guard (1...2_000).contains(request.text.count) else { throw BusClientError(.invalidArgument, "text must be 1 to 2,000 characters") }
        guard request.photoRef.utf8.count <= 256 else { throw BusClientError(.invalidArgument, "photo_ref is longer than 256 bytes") }
        guard request.typeCode.utf8.count <= 32 else { throw BusClientError(.invalidArgument, "type_code is longer than 32 bytes") }
        guard (-180...180).contains(request.longitude), (-90...90).contains(request.latitude), request.longitude != 0 || request.latitude != 0 else {
            throw BusClientError(.invalidArgument, "longitude and latitude must be a WGS84 position")
        }
        let time = now()
        guard request.observedAt >= 0, request.observedAt <= time + 5 * 60_000 else { throw BusClientError(.invalidArgument, "observed_at must be unix milliseconds, not in the future") }
        guard let member = try store.member(request.memberID) else { throw BusClientError(.notFound, "member \(request.memberID) is not in the ledger") }
        var tip = Xunfang_Community_V1_Tip()
        tip.memberID = member.id
        tip.text = request.text
        (tip.longitude, tip.latitude) = (request.longitude, request.latitude)
        tip.observedAt = request.observedAt == 0 ? time : request.observedAt
        tip.photoRef = request.photoRef
        tip.typeCode = request.typeCode
        tip.status = .submitted
        tip.history = [change(.submitted, at: time, by: member.id, why: "reported")]
        if member.reliability >= trustedReliability {
            tip.status = .verified
            tip.history.append(change(.verified, at: time, by: Self.automatic, why: "trusted reporter (reliability \(member.reliability))"))
        }
        var response = Xunfang_Community_V1_TipResponse()
        response.tip = try store.insert(tip: tip)
        return response
    }

    /// Moves a tip on. Forwarding first hands it to `forward` (Dispatch's Intake, which
    /// answers a repeat with the same incident) and keeps the incident's id with the change;
    /// when that fails nothing changes.
    func update(_ request: Xunfang_Community_V1_UpdateTipRequest,
                forward: (Xunfang_Community_V1_Tip, String) async throws -> String) async throws -> Xunfang_Community_V1_TipResponse {
        guard (1...64).contains(request.by.count) else { throw BusClientError(.invalidArgument, "by: who decides, 1 to 64 characters") }
        guard (1...500).contains(request.why.count) else { throw BusClientError(.invalidArgument, "why: 1 to 500 characters") }
        guard let tip = try store.tip(request.tipID) else { throw BusClientError(.notFound, "no tip \(request.tipID)") }
        try TipFlow.check(from: tip.status, to: request.status)
        var incident = ""
        var typeCode = tip.typeCode
        if request.status == .forwarded {
            typeCode = request.typeCode.isEmpty ? tip.typeCode : request.typeCode
            guard !typeCode.isEmpty else { throw BusClientError(.invalidArgument, "type_code: the tip has no case type; name one to forward it") }
            incident = try await forward(tip, typeCode)
        }
        let time = now()
        let updated = try store.update(tip: tip.id) { current in
            guard current.status == tip.status else {
                throw BusClientError(.aborted, "tip \(tip.id) became \(TipFlow.name(current.status)) meanwhile")
            }
            var next = current
            next.status = request.status
            next.typeCode = typeCode
            next.incidentID = incident
            next.history.append(change(request.status, at: time, by: request.by, why: request.why))
            return next
        }
        guard let updated else { throw BusClientError(.notFound, "no tip \(request.tipID)") }
        var response = Xunfang_Community_V1_TipResponse()
        response.tip = updated
        return response
    }

    /// A tip whole (who reported it, the exact place): audited before it is answered.
    func get(_ request: Xunfang_Community_V1_GetTipRequest, caller: String) throws -> Xunfang_Community_V1_TipResponse {
        guard let tip = try store.tip(request.tipID) else { throw BusClientError(.notFound, "no tip \(request.tipID)") }
        try store.append(audit: .init(at: now(), who: caller, action: "read-tip", member: tip.memberID, purpose: tip.id))
        var response = Xunfang_Community_V1_TipResponse()
        response.tip = tip
        return response
    }

    /// Tips whole, like `get`: the listing is audited with what it asked for.
    func list(_ request: Xunfang_Community_V1_ListTipsRequest, caller: String) throws -> Xunfang_Community_V1_ListTipsResponse {
        var response = Xunfang_Community_V1_ListTipsResponse()
        response.tips = try store.tips(member: request.memberID.isEmpty ? nil : request.memberID,
                                       status: request.status == .unspecified ? nil : request.status, limit: try Self.limit(request.limit))
        let asked = request.status == .unspecified ? "" : " \(request.status)"
        try store.append(audit: .init(at: now(), who: caller, action: "list-tips", member: request.memberID, purpose: "\(response.tips.count) tips\(asked)"))
        return response
    }


    func publicView(_ request: Xunfang_Community_V1_PublicTipsRequest) throws -> Xunfang_Community_V1_PublicTipsResponse {
        var response = Xunfang_Community_V1_PublicTipsResponse()
        response.precisionMetres = UInt32(blurMetres)
        response.tips = try store.tips(member: nil, status: nil, limit: try Self.limit(request.limit)).map { tip in
            var view = Xunfang_Community_V1_PublicTip()
            view.id = tip.id
            view.status = tip.status
            view.observedAt = tip.observedAt
            view.typeCode = tip.typeCode
            (view.longitude, view.latitude) = Self.blur(longitude: tip.longitude, latitude: tip.latitude, metres: blurMetres)
            return view
        }
        return response
    }

    /// The centre of the cell of side `metres` (north-south, and east-west at the cell
    /// row's latitude) holding the position: everyone in a cell gets the same answer.
    static func blur(longitude: Double, latitude: Double, metres: Double) -> (longitude: Double, latitude: Double) {
        let metresPerDegree = 111_320.0
        let latitudeStep = metres / metresPerDegree
        let row = (latitude / latitudeStep).rounded(.down)
        let centreLatitude = (row + 0.5) * latitudeStep
        let longitudeStep = metres / (metresPerDegree * cos(centreLatitude * .pi / 180))
        return (((longitude / longitudeStep).rounded(.down) + 0.5) * longitudeStep, centreLatitude)
    }

    static func limit(_ limit: UInt32) throws(BusClientError) -> Int {
        guard limit <= UInt32(pageDefault) else { throw BusClientError(.invalidArgument, "limit \(limit) is above \(pageDefault)") }
        return limit == 0 ? pageDefault : Int(limit)
    }

    private func change(_ status: Xunfang_Community_V1_TipStatus, at time: Int64, by: String, why: String) -> Xunfang_Community_V1_TipChange {
        var change = Xunfang_Community_V1_TipChange()
        change.status = status
        change.at = time
        change.by = by
        change.why = why
        return change
    }
}
