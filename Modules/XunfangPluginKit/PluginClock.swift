public import Foundation

/// The time a plugin lives in. In a deployment it is the machine's clock. In a harness run
/// (`xunfang harness`) every process of the stack shares one simulated clock: it read
/// `start` (Unix ms, simulated) when the machine's clock read `origin`, and runs `factor`
/// times as fast, so ack timeouts, shift changes, the 00:30 daily run and ten-day reports
/// happen in simulated time. Each process computes it from the same three numbers, so no
/// message is needed to keep them together.
///
/// Plugins take `now()` for every timestamp and deadline and `sleep(for:)` for every wait
/// that means simulated time ("until the next shift"); a short poll may stay on the
/// machine's clock.
public struct PluginClock: Sendable, Equatable {
    public let start: Int64
    public let origin: Int64
    public let factor: Double

    /// The machine's clock.
    public static let real = PluginClock(start: 0, origin: 0, factor: 1)

    public init(start: Int64, origin: Int64, factor: Double) {
        self.start = start
        self.origin = origin
        self.factor = factor
    }

    public var isSimulated: Bool { self != .real }

    static func machineMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }

    /// Unix milliseconds, simulated or not.
    public func now() -> Int64 {
        let machine = Self.machineMilliseconds()
        guard isSimulated else { return machine }
        return start + Int64((Double(machine - origin) * factor).rounded())
    }

    /// Waits `duration` of this clock's time.
    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: isSimulated ? duration / factor : duration)
    }

    /// Waits until this clock reads `milliseconds` (at once when it already does).
    public func sleep(untilMilliseconds milliseconds: Int64) async throws {
        let left = milliseconds - now()
        if left > 0 { try await sleep(for: .milliseconds(left)) }
    }

    /// What this clock's time is in machine seconds, for waits passed to other APIs.
    public func machineDuration(_ duration: Duration) -> Duration { isSimulated ? duration / factor : duration }

    // MARK: - Passing it to the processes of a harness run

    /// The environment variable `xunfang up --simulated-clock` sets for every plugin it starts.
    public static let environmentKey = "XUNFANG_CLOCK"

    /// `simulated:<start>:<origin>:<factor>`.
    public var encoded: String { "simulated:\(start):\(origin):\(factor)" }

    /// The clock an environment says, the machine's when it says none.
    public static func from(environment: [String: String]) throws(SettingError) -> PluginClock {
        guard let text = environment[environmentKey], !text.isEmpty else { return .real }
        let parts = text.split(separator: ":")
        guard parts.count == 4, parts[0] == "simulated", let start = Int64(parts[1]), let origin = Int64(parts[2]),
              let factor = Double(parts[3]), factor >= 1, factor <= 10_000, start > 0, origin > 0 else {
            throw SettingError("\(environmentKey) is \"\(text)\"; it is set by xunfang harness as simulated:<start ms>:<origin ms>:<factor 1 to 10000>")
        }
        return PluginClock(start: start, origin: origin, factor: factor)
    }
}
