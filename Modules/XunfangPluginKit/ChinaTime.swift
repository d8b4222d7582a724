public import Foundation

/// Times as a county's staff read them: China Standard Time (UTC+8, no daylight saving).
public enum ChinaTime {
    public static let zone = TimeZone(secondsFromGMT: 8 * 3_600)!

    /// `2026-12-01 18:45:07 +08:00` for Unix milliseconds.
    public static func format(milliseconds: Int64) -> String {
        let style = Date.ISO8601FormatStyle(dateSeparator: .dash, dateTimeSeparator: .space, timeSeparator: .colon, timeZone: zone)
        let date = Date(timeIntervalSince1970: Double(milliseconds) / 1_000)
        return date.formatted(style.year().month().day().time(includingFractionalSeconds: false)) + " +08:00"
    }
}
