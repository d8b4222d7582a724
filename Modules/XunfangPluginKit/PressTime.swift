/// When an officer pressed something on a terminal, as a plugin keeps it: a terminal out of
/// coverage sends its presses when it is back (and a busy link delivers them late), so a
/// press carries its own time. Kept never before `earliest` (the latest step it follows)
/// nor after now; a time more than `allowedSkew` ahead of the plugin's clock is a terminal
/// with a wrong clock, and is refused.
public enum PressTime {
    /// How far ahead of the desk a terminal's clock may run (ms).
    public static let allowedSkew: Int64 = 10_000

    /// The time to keep (ms); nil when `at` is too far ahead. `at` 0: now.
    public static func kept(_ at: Int64, after earliest: Int64?, now: Int64) -> Int64? {
        guard at > 0 else { return now }
        guard at <= now + allowedSkew else { return nil }
        return min(now, max(at, earliest ?? at))
    }

    /// Why `at` is refused.
    public static func refusal(_ at: Int64, now: Int64) -> String {
        "at \(at) is \((at - now) / 1_000) s ahead of the desk's clock; a terminal's clock may be at most \(allowedSkew / 1_000) s ahead"
    }
}
