import XunfangPluginKit
import CommunityPolicingContract

/// Who of the matched members gets an alert, and when: never one who opted out, is off
/// duty, still has an open alert, or had `perDay` alerts in the last 24 hours; only for
/// the case types they watch; during quiet hours only those working then, the rest once
/// quiet hours end. Pure: the store supplies each member's state and recent alerts.
struct AlertPolicy: Sendable {
    /// At most this many alerts a member in any 24 hours (`COMMUNITY_ALERTS_PER_DAY`).
    var perDay = 3
    /// Minutes of the day, China time, when alerts wait (`COMMUNITY_QUIET_HOURS`); the span
    /// may pass midnight (22:00-07:00); nil: none.
    var quietHours: (start: Int, end: Int)? = (22 * 60, 7 * 60)

    enum Reason: Equatable { case optedOut, offDuty, committed, rateLimited, otherTypes, quietHours }

    enum Outcome: Equatable {
        /// Send at `at` for these windows (indices) and case types.
        case send(at: Int64, windows: [Int], types: [String])
        case skip(Reason)
    }

    /// A member's earlier alert, as far as the policy cares.
    struct Recent: Sendable {
        var created: Int64
        var expires: Int64
    }

    func decide(member: Xunfang_Community_V1_Member, status: Xunfang_Community_V1_MemberStatus?, recent: [Recent],
                windows: [HotWindow], matched: [Int], warningTypes: [String], now: Int64) -> Outcome {
        if status?.alertsOptedOut == true { return .skip(.optedOut) }
        if let status, status.offDutyUntil > now { return .skip(.offDuty) }
        if recent.contains(where: { $0.expires > now }) { return .skip(.committed) }
        if recent.filter({ $0.created > now - ChinaTime.day }).count >= perDay { return .skip(.rateLimited) }
        let types = member.caseTypes.isEmpty ? warningTypes : warningTypes.filter(member.caseTypes.contains)
        if types.isEmpty && !warningTypes.isEmpty { return .skip(.otherTypes) }
        let sendAt = quietUntil(now, workingNow: Self.working(member, at: now)) ?? now
        let open = matched.filter { windows[$0].end > sendAt }
        return open.isEmpty ? .skip(.quietHours) : .send(at: sendAt, windows: open, types: types)
    }

    /// When quiet hours that hold `now` end; nil when they do not hold it or the member is
    /// working then (a night patroller hears of a night hot spot at night).
    func quietUntil(_ now: Int64, workingNow: Bool) -> Int64? {
        guard let (start, end) = quietHours, !workingNow else { return nil }
        let minute = Self.minuteOfDay(now)
        let inside = start <= end ? (start <= minute && minute < end) : (minute >= start || minute < end)
        guard inside else { return nil }
        let ahead = (end - minute + 1_440) % 1_440
        return now - now % 60_000 + Int64(ahead) * 60_000
    }

    static func minuteOfDay(_ time: Int64) -> Int {
        Int((time - ChinaTime.start(ofDay: ChinaTime.dayNumber(time))) / 60_000)
    }

    static func working(_ member: Xunfang_Community_V1_Member, at time: Int64) -> Bool {
        let day = ChinaTime.weekday(time), minute = minuteOfDay(time)
        return member.hours.contains { Int($0.day) == day && Int($0.startMinute) <= minute && minute < Int($0.endMinute) }
    }

    /// `HH:MM-HH:MM` or `off`, as `COMMUNITY_QUIET_HOURS` takes it.
    static func quietHours(_ text: String) throws(SettingError) -> (start: Int, end: Int)? {
        if text == "off" { return nil }
        let ends = text.split(separator: "-").map { end -> Int? in
            let parts = end.split(separator: ":").map { Int($0) }
            guard parts.count == 2, let hour = parts[0], let minute = parts[1], (0...23).contains(hour), (0...59).contains(minute) else { return nil }
            return hour * 60 + minute
        }
        guard ends.count == 2, let start = ends[0], let end = ends[1], start != end else {
            throw SettingError("COMMUNITY_QUIET_HOURS is \"\(text)\"; use HH:MM-HH:MM (22:00-07:00) or off")
        }
        return (start, end)
    }
}
