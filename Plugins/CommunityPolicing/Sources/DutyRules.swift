import Foundation
import XunfangPluginKit
import CommunityPolicingContract

/// The documents' duty rules (domain.md §5), checked from duty records: a village or
/// community officer spends at least 20 hours a week in their village; a station chief
/// works one day a month in one of the station's police rooms; every police room is
/// staffed day and night. Pure: posts, records and a period in, a report out.
enum DutyRules {
    static let villageHoursPerWeek = 20.0
    /// A chief's "day" in a police room: this many hours on one China date.
    static let chiefDayHours = 8.0
    static let hourMs: Int64 = 3_600_000

    struct Period: Equatable {
        let kind: Xunfang_Community_V1_CompliancePeriod
        let label: String
        let from: Int64
        let to: Int64
        var days: Double { Double(to - from) / Double(ChinaTime.day) }
    }

    /// The week (Monday to Sunday) or ten days (1st–10th, 11th–20th, 21st–last) holding `time`.
    static func period(_ kind: Xunfang_Community_V1_CompliancePeriod, containing time: Int64) -> Period {
        let day = ChinaTime.dayNumber(time)
        if kind == .tenDays {
            let (first, next, part) = ChinaTime.tenDays(containing: day)
            return Period(kind: kind, label: ChinaTime.label(ofDay: first).prefix(7) + " " + ["上旬", "中旬", "下旬"][part],
                          from: ChinaTime.start(ofDay: first), to: ChinaTime.start(ofDay: next))
        }
        let monday = day - Int64(ChinaTime.weekday(time) - 1)
        // ISO week numbering: the week belongs to the year of its Thursday.
        let thursday = ChinaTime.civil(monday + 3)
        let week = (monday + 3 - ChinaTime.dayNumber(year: thursday.year, month: 1, day: 1)) / 7 + 1
        return Period(kind: .week, label: "\(thursday.year)-W" + (week < 10 ? "0\(week)" : "\(week)"),
                      from: ChinaTime.start(ofDay: monday), to: ChinaTime.start(ofDay: monday + 7))
    }

    /// Where duty records may be: the villages of village posts and the police rooms.
    static func places(_ posts: [Xunfang_Community_V1_DutyPost]) -> Set<String> {
        Set(posts.compactMap { post in
            switch post.kind {
            case .villagePolice: post.gridID
            case .policeRoom: post.id
            default: nil
            }
        })
    }

    /// The last period of `kind` over by `now`.
    static func lastClosed(_ kind: Xunfang_Community_V1_CompliancePeriod, at now: Int64) -> Period {
        period(kind, containing: period(kind, containing: now).from - 1)
    }

    static func report(posts: [Xunfang_Community_V1_DutyPost], records: [Xunfang_Community_V1_DutyRecord], period: Period,
                       now: Int64) -> Xunfang_Community_V1_ComplianceReport {
        var report = Xunfang_Community_V1_ComplianceReport()
        report.period = period.kind
        report.label = period.label
        report.from = period.from
        report.to = period.to
        report.closed = now >= period.to
        let rooms = posts.filter { $0.kind == .policeRoom }
        report.items = posts.sorted { ($0.stationID, $0.kind.rawValue, $0.id) < ($1.stationID, $1.kind.rawValue, $1.id) }.map { post in
            var item = Xunfang_Community_V1_ComplianceItem()
            item.postID = post.id
            item.kind = post.kind
            item.name = post.name
            item.stationID = post.stationID
            item.gridID = post.gridID
            switch post.kind {
            case .villagePolice: village(&item, post: post, records: records, period: period, closed: report.closed)
            case .stationChief:
                let own = Set(rooms.filter { $0.stationID == post.stationID }.map(\.id))
                chief(&item, post: post, records: records.filter { own.contains($0.placeID) }, period: period, now: now)
            default: room(&item, post: post, records: records, period: period, now: now)
            }
            return item
        }
        report.exceptions = UInt32(report.items.filter { $0.status == .short }.count)
        return report
    }

    /// At least 20 h a week in the village: the period's share of it (28.6 h in ten days).
    static func village(_ item: inout Xunfang_Community_V1_ComplianceItem, post: Xunfang_Community_V1_DutyPost,
                        records: [Xunfang_Community_V1_DutyRecord], period: Period, closed: Bool) {
        let spans = records.filter { $0.officerID == post.officerID && $0.placeID == post.gridID }.map { ($0.start, $0.end) }
        item.unit = "h"
        item.required = (villageHoursPerWeek * period.days / 7 * 10).rounded() / 10
        item.achieved = hours(covered(spans, within: period.from..<period.to))
        item.status = item.achieved >= item.required ? .met : closed ? .short : .pending
        if item.status != .met { item.note = String(format: "在村%.1f小时，应不少于%.1f小时", item.achieved, item.required) }
    }

    /// One day a month in a police room of the station: days of the month up to the period's
    /// end with 8 hours there. Short only when that month is over without one.
    static func chief(_ item: inout Xunfang_Community_V1_ComplianceItem, post: Xunfang_Community_V1_DutyPost,
                      records: [Xunfang_Community_V1_DutyRecord], period: Period, now: Int64) {
        let (year, month, _) = ChinaTime.civil(ChinaTime.dayNumber(period.to - 1))
        let monthStart = ChinaTime.start(ofDay: ChinaTime.dayNumber(year: year, month: month, day: 1))
        let monthEnd = ChinaTime.start(ofDay: ChinaTime.dayNumber(year: month == 12 ? year + 1 : year, month: month == 12 ? 1 : month + 1, day: 1))
        let spans = records.filter { $0.officerID == post.officerID }.map { ($0.start, $0.end) }
        var days = 0
        var day = ChinaTime.dayNumber(monthStart)
        while ChinaTime.start(ofDay: day) < min(period.to, monthEnd) {
            if hours(covered(spans, within: ChinaTime.start(ofDay: day)..<ChinaTime.start(ofDay: day + 1))) >= chiefDayHours { days += 1 }
            day += 1
        }
        item.unit = "days"
        item.required = 1
        item.achieved = Double(days)
        item.status = days >= 1 ? .met : (period.to >= monthEnd && now >= monthEnd) ? .short : .pending
        if item.status != .met { item.note = "\(year)年\(month)月尚无在警务室工作满一日的记录" }
    }

    /// Staffed day and night: every minute of the period (up to now) covered; the gaps named.
    static func room(_ item: inout Xunfang_Community_V1_ComplianceItem, post: Xunfang_Community_V1_DutyPost,
                     records: [Xunfang_Community_V1_DutyRecord], period: Period, now: Int64) {
        let until = min(period.to, max(period.from, now))
        let spans = covered(records.filter { $0.placeID == post.id }.map { ($0.start, $0.end) }, within: period.from..<until)
        var gaps: [(Int64, Int64)] = [], cursor = period.from
        for (start, end) in spans {
            if start > cursor { gaps.append((cursor, start)) }
            cursor = max(cursor, end)
        }
        if cursor < until { gaps.append((cursor, until)) }
        item.unit = "h"
        item.required = hours([(period.from, until)])
        item.achieved = hours(spans)
        item.status = gaps.isEmpty ? .met : now >= period.to ? .short : .pending
        if !gaps.isEmpty {
            let named = gaps.prefix(5).map { gap in
                let start = ChinaTime.minute(milliseconds: gap.0), end = ChinaTime.minute(milliseconds: gap.1)
                return "\(start)至\(start.prefix(10) == end.prefix(10) ? ChinaTime.hourMinute(milliseconds: gap.1) : end)"
            }
            item.note = "无人值守\(gaps.count)段：" + named.joined(separator: "、") + (gaps.count > 5 ? "等" : "")
        }
    }

    /// The spans clipped to `window` and merged, in order.
    static func covered(_ spans: [(Int64, Int64)], within window: Range<Int64>) -> [(Int64, Int64)] {
        let clipped = spans.map { (max($0.0, window.lowerBound), min($0.1, window.upperBound)) }.filter { $0.0 < $0.1 }.sorted { $0.0 < $1.0 }
        var merged: [(Int64, Int64)] = []
        for span in clipped {
            if let last = merged.last, span.0 <= last.1 {
                merged[merged.count - 1].1 = max(last.1, span.1)
            } else {
                merged.append(span)
            }
        }
        return merged
    }

    static func hours(_ spans: [(Int64, Int64)]) -> Double {
        (Double(spans.reduce(0) { $0 + $1.1 - $1.0 }) / Double(hourMs) * 10).rounded() / 10
    }
}
