import Foundation
import XunfangPluginKit
import CommunityPolicingContract

/// The duty rules over the store: a period's compliance report on request, and each
/// closed week's and ten days' exceptions published once on `community.compliance.<station>`,
/// `grace` after the period's end: duty records come in a day late (a roster typed up the
/// next morning), and an exception sent is not taken back.
struct Duty: Sendable {
    let store: CommunityStore
    let now: @Sendable () -> Int64
    var grace: Int64 = 24 * 3_600_000

    func compliance(_ request: Xunfang_Community_V1_ComplianceRequest) throws -> Xunfang_Community_V1_ComplianceReport {
        guard request.period == .week || request.period == .tenDays else {
            throw BusClientError(.invalidArgument, "period must be COMPLIANCE_PERIOD_WEEK or COMPLIANCE_PERIOD_TEN_DAYS")
        }
        let period: DutyRules.Period
        if request.day.isEmpty {
            period = DutyRules.lastClosed(request.period, at: now())
        } else {
            guard let day = ChinaTime.dayNumber(label: request.day) else { throw BusClientError(.invalidArgument, "day \"\(request.day)\" is not YYYY-MM-DD") }
            period = DutyRules.period(request.period, containing: ChinaTime.start(ofDay: day))
        }
        return try report(period, station: request.stationID.isEmpty ? nil : request.stationID)
    }

    func report(_ period: DutyRules.Period, station: String? = nil) throws -> Xunfang_Community_V1_ComplianceReport {
        let posts = try store.dutyPosts()
        // A chief's month may begin before the period: read from the month's first day.
        let (year, month, _) = ChinaTime.civil(ChinaTime.dayNumber(period.to - 1))
        let from = min(period.from, ChinaTime.start(ofDay: ChinaTime.dayNumber(year: year, month: month, day: 1)))
        var report = DutyRules.report(posts: posts, records: try store.dutyRecords(from: from, to: period.to), period: period, now: now())
        if let station {
            report.items = report.items.filter { $0.stationID == station }
            report.exceptions = UInt32(report.items.filter { $0.status == .short }.count)
        }
        return report
    }

    /// Publishes the exceptions of the last week and ten days over by `grace`, unless done
    /// before; the labels newly published.
    func publishClosedPeriods() throws -> [String] {
        guard !(try store.dutyPosts().isEmpty) else { return [] }
        var published: [String] = []
        for kind in [Xunfang_Community_V1_CompliancePeriod.week, .tenDays] {
            let report = try report(DutyRules.lastClosed(kind, at: now() - grace))
            let exceptions = report.items.filter { $0.status == .short }.map { item in
                var exception = Xunfang_Community_V1_ComplianceException()
                exception.label = report.label
                exception.item = item
                return exception
            }
            if try store.publishCompliance(label: report.label, at: now(), exceptions: exceptions) { published.append(report.label) }
        }
        return published
    }
}
