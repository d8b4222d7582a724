import Foundation
import Synchronization
import XunfangPluginKit
import CommunityPolicingContract
import SituationAnalysisContract

/// Targeted alerts: a warning's hot road segments × hot hours matched to the members who
/// work there then (`AlertMatcher`), filtered by `AlertPolicy`, issued once per warning
/// with their CAP documents and bus messages in one transaction; the notifier takes them
/// when due.
final class Alerting: Sendable {
    let store: CommunityStore
    let policy: AlertPolicy
    /// The CAP sender: `xunfang.community.<county>`.
    let sender: String
    let now: @Sendable () -> Int64
    /// The matcher over the ledger as of `generation`; nil after an import until the next issue.
    private let matcher = Mutex<(generation: Int, built: AlertMatcher?)>((0, nil))

    init(store: CommunityStore, policy: AlertPolicy, sender: String, now: @escaping @Sendable () -> Int64) {
        self.store = store
        self.policy = policy
        self.sender = sender
        self.now = now
    }

    /// The ledger changed: the next issue builds its matcher afresh.
    func ledgerChanged() {
        matcher.withLock { $0 = ($0.generation + 1, nil) }
    }

    static func source(of warning: Xunfang_Situation_V1_Warning) -> String { "warning \(warning.stationID) \(warning.day)" }

    /// Alerts handed to a notifier at a time: each batch costs the notifier one flush to
    /// disk, and a crash hands the batches in flight over again.
    static let deliveryBatch = 1_000
    /// Batches with the notifier at once: while it flushes one to disk it writes the next.
    static let batchesInFlight = 2

    /// Hands every due alert to `notifier` in batches, each marked delivered once the
    /// notifier took all of it (a crash between the two hands it over again); returns how
    /// many it handed, 0 when nothing was due. A batch the notifier fails ends the run with
    /// that error when the others in flight are done; its alerts stay due.
    func deliverDue(to notifier: some AlertNotifier) async throws -> Int {
        try await withThrowingTaskGroup(of: [String].self) { group in
            var inFlight = Set<String>(), running = 0, handed = 0
            while true {
                let batch = Task.isCancelled ? [] : try dueBatch(excluding: inFlight)
                if !batch.isEmpty {
                    let ids = batch.map(\.alert.id)
                    inFlight.formUnion(ids)
                    running += 1
                    handed += ids.count
                    group.addTask {
                        try await notifier.deliver(batch)
                        try self.store.markDelivered(ids, at: self.now())
                        return ids
                    }
                }
                guard running > 0 else { return handed }
                if batch.isEmpty || running == Self.batchesInFlight {
                    inFlight.subtract(try await group.next() ?? [])
                    running -= 1
                }
            }
        }
    }

    /// The next due alerts not already with the notifier, oldest first.
    private func dueBatch(excluding inFlight: Set<String>) throws -> [DeliverableAlert] {
        let due = try store.undelivered(dueBy: now(), limit: Self.deliveryBatch + inFlight.count)
        return Array(due.filter { !inFlight.contains($0.alert.id) }.prefix(Self.deliveryBatch))
    }

    /// - Parameter areas: the hot grids' outlines for the CAP `<area>`s, as far as known.
    func issue(_ warning: Xunfang_Situation_V1_Warning, areas: [Cap.Area]) throws -> Xunfang_Community_V1_IssueAlertsResponse {
        try Self.check(warning)
        return try issue(warning, source: Self.source(of: warning), areas: areas)
    }

    /// The alerts of `warning` (checked by the caller, within its own bounds), once for
    /// `source`; `headline` (nil: the warning's own) and `style` say how they read.
    func issue(_ warning: Xunfang_Situation_V1_Warning, source: String, areas: [Cap.Area], style: Cap.Style = .warning,
               headline: String? = nil) throws -> Xunfang_Community_V1_IssueAlertsResponse {
        let time = now()
        let windows = HotWindow.coming(segments: warning.roadSegments, hours: warning.hotHours, now: time)
        let matcher = try currentMatcher()
        let matches = matcher.match(windows)
        var response = Xunfang_Community_V1_IssueAlertsResponse()
        response.onSegments = UInt32(matches.onSegments)
        response.inHours = UInt32(matches.windows.count)
        let matched = matches.windows.keys.sorted()
        let issued = try store.issue(source: source, now: time, members: matched.map { matcher.members[$0].id }) { state, first in
            var drafted: [(alert: Xunfang_Community_V1_Alert, cap: String)] = []
            for index in matched {
                let member = matcher.members[index]
                let outcome = policy.decide(member: member, status: state.statuses[member.id], recent: state.recent[member.id] ?? [],
                                            windows: windows, matched: matches.windows[index]!, warningTypes: warning.topTypes, now: time)
                switch outcome {
                case .skip(let reason): response.skipped.count(reason)
                case let .send(at, chosen, types):
                    var alert = draft(id: "CA-\(first + Int64(drafted.count))", member: member, warning: warning, source: source,
                                      windows: chosen.map { windows[$0] }, types: types, sendAt: at, createdAt: time)
                    if let headline { alert.headline = headline }
                    drafted.append((alert, Cap.document(alert, sender: sender, areas: areas, style: style)))
                }
            }
            return drafted
        }
        if let issued {
            response.alerts = issued
        } else {
            response.alreadyHandled = true
            response.alerts = try store.alerts(source: source)
        }
        response.note = Self.note(response, windows: windows, warning: warning)
        return response
    }

    /// A matcher built from a ledger an import replaced meanwhile is used once, not kept.
    private func currentMatcher() throws -> AlertMatcher {
        let (generation, cached) = matcher.withLock { $0 }
        if let cached { return cached }
        let built = AlertMatcher(members: try store.allMembers())
        matcher.withLock { if $0.generation == generation { $0.built = built } }
        return built
    }

    func setStatus(_ status: Xunfang_Community_V1_MemberStatus) throws -> Xunfang_Community_V1_MemberStatusResponse {
        guard try store.setStatus(status) else { throw BusClientError(.notFound, "member \(status.memberID) does not exist") }
        var response = Xunfang_Community_V1_MemberStatusResponse()
        response.status = status
        return response
    }

    func list(_ request: Xunfang_Community_V1_ListAlertsRequest) throws -> Xunfang_Community_V1_ListAlertsResponse {
        guard request.limit <= 10_000 else { throw BusClientError(.invalidArgument, "limit \(request.limit) is above 10,000") }
        var response = Xunfang_Community_V1_ListAlertsResponse()
        response.alerts = try store.alerts(member: request.memberID.isEmpty ? nil : request.memberID, since: request.since,
                                           limit: request.limit == 0 ? 100 : Int(request.limit))
        return response
    }

    private func draft(id: String, member: Xunfang_Community_V1_Member, warning: Xunfang_Situation_V1_Warning, source: String,
                       windows: [HotWindow], types: [String], sendAt: Int64, createdAt: Int64) -> Xunfang_Community_V1_Alert {
        var alert = Xunfang_Community_V1_Alert()
        alert.id = id
        alert.memberID = member.id
        alert.stationID = warning.stationID
        alert.source = source
        alert.createdAt = createdAt
        alert.sendAt = sendAt
        alert.windows = windows.map { window in
            var hot = Xunfang_Community_V1_HotWindow()
            hot.segment = window.segment
            hot.start = window.start
            hot.end = window.end
            return hot
        }
        alert.caseTypes = types
        let names = Dictionary(zip(warning.topTypes, warning.topTypeNames), uniquingKeysWith: { first, _ in first })
        alert.caseTypeNames = types.map { names[$0].flatMap { $0.isEmpty ? nil : $0 } ?? $0 }
        alert.expires = windows.map(\.end).max() ?? sendAt
        let station = warning.stationName.isEmpty ? warning.stationID : warning.stationName
        let kinds = alert.caseTypeNames.isEmpty ? "警情" : alert.caseTypeNames.prefix(3).joined(separator: "、")
        alert.headline = "\(station)辖区\(ChinaTime.hourMinute(milliseconds: windows.map(\.start).min() ?? sendAt))起\(kinds)高发，请留意所列路段"
        return alert
    }

    /// A warning with bounds: what it names is what the alerts carry.
    static func check(_ warning: Xunfang_Situation_V1_Warning) throws {
        guard !warning.stationID.isEmpty, warning.stationID.utf8.count <= 64 else { throw BusClientError(.invalidArgument, "warning.station_id must be 1 to 64 bytes") }
        guard ChinaTime.dayNumber(label: warning.day) != nil else { throw BusClientError(.invalidArgument, "warning.day \"\(warning.day)\" is not yyyy-mm-dd") }
        guard warning.roadSegments.count <= 500, warning.hotHours.count <= 24, warning.topTypes.count <= 50, warning.hotGrids.count <= 200 else {
            throw BusClientError(.invalidArgument, "a warning names at most 500 road segments, 24 hours, 50 types and 200 grids")
        }
        if let bad = warning.roadSegments.first(where: { HotWindow.nodes(of: $0) == nil }) {
            throw BusClientError(.invalidArgument, "road segment \"\(bad)\" is not <node>-<node> with the smaller id first")
        }
        if let bad = warning.hotHours.first(where: { $0 > 23 }) { throw BusClientError(.invalidArgument, "hot hour \(bad) is not 0 to 23") }
    }

    /// Why nobody was alerted, in the duty officer's terms.
    static func note(_ response: Xunfang_Community_V1_IssueAlertsResponse, windows: [HotWindow], warning: Xunfang_Situation_V1_Warning) -> String {
        if response.alreadyHandled { return "this warning was handled before: \(response.alerts.count) alert(s) then, none again" }
        guard response.alerts.isEmpty else { return "" }
        if warning.roadSegments.isEmpty || warning.hotHours.isEmpty { return "the warning names no hot road segment or no hot hour: nobody to alert" }
        if response.onSegments == 0 { return "no member works on or next to the \(warning.roadSegments.count) hot road segment(s)" }
        if response.inHours == 0 { return "\(response.onSegments) member(s) work the hot segments, none in the hot hours" }
        let skipped = response.skipped
        return "\(response.inHours) member(s) work there then; skipped: \(skipped.optedOut) opted out, \(skipped.offDuty) off duty, "
            + "\(skipped.committed) with an open alert, \(skipped.rateLimited) at the daily limit, \(skipped.otherTypes) watching other types, "
            + "\(skipped.quietHours) only in quiet hours"
    }
}

extension Xunfang_Community_V1_Skipped {
    mutating func count(_ reason: AlertPolicy.Reason) {
        switch reason {
        case .optedOut: optedOut += 1
        case .offDuty: offDuty += 1
        case .committed: committed += 1
        case .rateLimited: rateLimited += 1
        case .otherTypes: otherTypes += 1
        case .quietHours: quietHours += 1
        }
    }
}
