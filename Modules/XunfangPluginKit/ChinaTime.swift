public import Foundation

/// Times as a county's staff read them: China Standard Time (UTC+8, no daylight saving),
/// and days, hours and weekdays as the bureaus count them.
public enum ChinaTime {
    public static let zone = TimeZone(secondsFromGMT: 8 * 3_600)!
    static let offset: Int64 = 8 * 3_600_000
    public static let day: Int64 = 86_400_000

    /// `2026-12-01 18:45:07 +08:00` for Unix milliseconds.
    public static func format(milliseconds: Int64) -> String {
        written { $0.date(milliseconds); $0.literal(" "); $0.clock(milliseconds); $0.literal(" +08:00") }
    }

    /// `2026-12-01T18:45:07+08:00`: ISO 8601 as CAP and XML Schema's dateTime take it.
    public static func iso8601(milliseconds: Int64) -> String {
        written { $0.date(milliseconds); $0.literal("T"); $0.clock(milliseconds); $0.literal("+08:00") }
    }

    /// `2026-12-01 18:45`: to the minute, as rosters and reports show times.
    public static func minute(milliseconds: Int64) -> String {
        written { $0.date(milliseconds); $0.literal(" "); $0.clock(milliseconds, seconds: false) }
    }

    /// `18:45`, China time.
    public static func hourMinute(milliseconds: Int64) -> String { written(capacity: 15) { $0.clock(milliseconds, seconds: false) } }

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

    /// The ten-day period (旬) holding day `number`: the 1st–10th (上旬), 11th–20th (中旬) or
    /// 21st to the month's end (下旬, 8 to 11 days). Its first day, the day after its last,
    /// and which of the three it is (0, 1, 2).
    public static func tenDays(containing number: Int64) -> (first: Int64, next: Int64, part: Int) {
        let (year, month, date) = civil(number)
        let part = min((date - 1) / 10, 2)
        let first = dayNumber(year: year, month: month, day: part * 10 + 1)
        let next = part < 2 ? first + 10 : dayNumber(year: month == 12 ? year + 1 : year, month: month == 12 ? 1 : month + 1, day: 1)
        return (first, next, Int(part))
    }

    /// Midnight (China) starting day `number`.
    public static func start(ofDay number: Int64) -> Int64 { number * day - offset }

    /// "yyyy-mm-dd" of a day number, and back.
    /// (Gregorian arithmetic, no Calendar: a CAP document or a CSV row formats several
    /// times each, tens of thousands at once.)
    public static func label(ofDay number: Int64) -> String { written { $0.date(ofDay: number) } }

    public static func dayNumber(label: String) -> Int64? {
        let parts = label.split(separator: "-", omittingEmptySubsequences: false).map { Int64($0) }
        guard parts.count == 3, let year = parts[0], let month = parts[1], let day = parts[2], (1...9999).contains(year),
              (1...12).contains(month), (1...31).contains(day) else { return nil }
        let number = dayNumber(year: year, month: month, day: day)
        return civil(number) == (year, month, day) ? number : nil
    }

    /// Days since 1970-01-01 of a Gregorian date (eras of 400 years, March-based years).
    public static func dayNumber(year: Int64, month: Int64, day: Int64) -> Int64 {
        let shifted = month <= 2 ? year - 1 : year
        let era = (shifted >= 0 ? shifted : shifted - 399) / 400
        let yearOfEra = shifted - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The Gregorian date of a day number.
    public static func civil(_ number: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = number + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1_460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// A time's text written digit by digit into the string's own storage, no pieces joined.
    /// 64 bytes hold any date and time; up to 15 make a small string, with no allocation.
    static func written(capacity: Int = 64, _ write: (inout Writer) -> Void) -> String {
        String(unsafeUninitializedCapacity: capacity) { buffer in
            var writer = Writer(buffer: buffer)
            write(&writer)
            return writer.count
        }
    }

    struct Writer {
        let buffer: UnsafeMutableBufferPointer<UInt8>
        var count = 0

        mutating func date(_ milliseconds: Int64) { date(ofDay: dayNumber(milliseconds)) }

        mutating func date(ofDay number: Int64) {
            let (year, month, day) = civil(number)
            digits(year, 4)
            literal("-")
            digits(month, 2)
            literal("-")
            digits(day, 2)
        }

        mutating func clock(_ milliseconds: Int64, seconds: Bool = true) {
            let second = (milliseconds + offset - dayNumber(milliseconds) * ChinaTime.day) / 1_000
            digits(second / 3_600, 2)
            literal(":")
            digits(second / 60 % 60, 2)
            if seconds {
                literal(":")
                digits(second % 60, 2)
            }
        }

        mutating func literal(_ text: StaticString) {
            precondition(count + text.utf8CodeUnitCount <= buffer.count, "a time's text outgrew its buffer")
            text.withUTF8Buffer { for byte in $0 { buffer[count] = byte; count += 1 } }
        }

        /// `value` in decimal, zero-padded to `width` (wider when it needs more digits).
        mutating func digits(_ value: Int64, _ width: Int) {
            if value < 0 { literal("-") }
            var rest = value.magnitude, length = 1
            while rest >= 10 { rest /= 10; length += 1 }
            let end = count + max(width, length)
            precondition(end <= buffer.count, "a time's text outgrew its buffer")
            rest = value.magnitude
            for index in stride(from: end - 1, through: count, by: -1) {
                buffer[index] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
            }
            count = end
        }
    }
}
