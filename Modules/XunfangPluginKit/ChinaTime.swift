public import Foundation

/// Times as a county's staff read them: China Standard Time (UTC+8, no daylight saving),
/// and days, hours and weekdays as the bureaus count them.
public enum ChinaTime {
    public static let zone = TimeZone(secondsFromGMT: 8 * 3_600)!
    static let offset: Int64 = 8 * 3_600_000
    public static let day: Int64 = 86_400_000

    /// `2026-12-01 18:45:07 +08:00` for Unix milliseconds.
    public static func format(milliseconds: Int64) -> String {
        let local = milliseconds + offset
        let seconds = (local - dayNumber(milliseconds) * day) / 1_000
        return label(ofDay: dayNumber(milliseconds))
            + String(format: " %02d:%02d:%02d +08:00", Int(seconds / 3_600), Int(seconds / 60 % 60), Int(seconds % 60))
    }

    /// Unix milliseconds of `yyyy-mm-dd hh:mm[:ss]`, China time; a trailing `+08:00` is
    /// accepted, any other offset is not (nil).
    public static func parse(_ text: String) -> Int64? {
        var rest = text.trimmingCharacters(in: .whitespaces)
        if rest.hasSuffix("+08:00") { rest = String(rest.dropLast(6)).trimmingCharacters(in: .whitespaces) }
        let halves = rest.split(separator: " ", omittingEmptySubsequences: true)
        guard halves.count == 2, let dayNumber = dayNumber(label: String(halves[0])) else { return nil }
        let clock = halves[1].split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
        guard (2...3).contains(clock.count), clock.allSatisfy({ $0 != nil }) else { return nil }
        let (hour, minute, second) = (clock[0]!, clock[1]!, clock.count == 3 ? clock[2]! : 0)
        guard (0...23).contains(hour), (0...59).contains(minute), (0...59).contains(second) else { return nil }
        return start(ofDay: dayNumber) + Int64(hour * 3_600 + minute * 60 + second) * 1_000
    }

    /// Days since 1970-01-01 in China.
    public static func dayNumber(_ milliseconds: Int64) -> Int64 {
        let local = milliseconds + offset
        return local >= 0 ? local / day : (local - day + 1) / day
    }

    public static func hour(_ milliseconds: Int64) -> Int {
        Int((milliseconds + offset - dayNumber(milliseconds) * day) / 3_600_000)
    }

    /// 1 = Monday ... 7 = Sunday (1970-01-01 was a Thursday).
    public static func weekday(_ milliseconds: Int64) -> Int {
        Int(((dayNumber(milliseconds) + 3) % 7 + 7) % 7) + 1
    }

    /// 星期一 … 星期日 for 1 … 7.
    public static func weekdayName(_ weekday: Int) -> String {
        "星期" + ["一", "二", "三", "四", "五", "六", "日"][(weekday - 1 + 7) % 7]
    }

    /// Midnight (China) starting day `number`.
    public static func start(ofDay number: Int64) -> Int64 { number * day - offset }

    /// "yyyy-mm-dd" of a day number, and back.
    public static func label(ofDay number: Int64) -> String {
        let date = Date(timeIntervalSince1970: Double(start(ofDay: number) + offset) / 1_000)
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    public static func dayNumber(label: String) -> Int64? {
        let parts = label.split(separator: "-").compactMap { Int($0) }
        guard parts.count == 3, (1...12).contains(parts[1]), (1...31).contains(parts[2]) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(secondsFromGMT: 0)!
        guard let date = calendar.date(from: DateComponents(year: parts[0], month: parts[1], day: parts[2])),
              calendar.component(.day, from: date) == parts[2] else { return nil }
        return Int64((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }
}
