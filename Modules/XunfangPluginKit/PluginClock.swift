public import Foundation

/// The time a plugin lives in. In a deployment it is the machine's clock. In a harness run
/// (`xunfang harness`) every process of the stack shares one simulated clock: it read
/// `start` (Unix ms, simulated) when the machine's clock read `origin`, and runs `factor`
/// times as fast, so ack timeouts, shift changes, the 00:30 daily run and ten-day reports
/// happen in simulated time. Each process computes it from the same three numbers, so no
/// message is needed to keep them together. A *governed* clock reads those numbers from the
/// harness's `ClockFile` instead, which the harness rewrites to run the clock as fast as the
/// stack keeps up with; then `start`, `origin` and `factor` are its first segment's.
///
/// Plugins take `now()` for every timestamp and deadline and `sleep(for:)` for every wait
/// that means simulated time ("until the next shift"); a short poll may stay on the
/// machine's clock.
public struct PluginClock: Sendable, Equatable {
    public let start: Int64
    public let origin: Int64
    public let factor: Double
    /// The harness's clock file, when the harness governs the pace.
    public let governor: ClockFile?

    /// The machine's clock.
    public static let real = PluginClock(start: 0, origin: 0, factor: 1)

    public init(start: Int64, origin: Int64, factor: Double) {
        self.start = start
        self.origin = origin
        self.factor = factor
        governor = nil
    }

    /// The clock `file` governs.
    public init(governedBy file: ClockFile) throws(SettingError) {
        guard let first = file.read() else { throw SettingError("clock file \(file.path) holds no clock") }
        start = first.start
        origin = first.origin
        factor = first.factor
        governor = file
    }

    public static func == (left: PluginClock, right: PluginClock) -> Bool {
        left.start == right.start && left.origin == right.origin && left.factor == right.factor && left.governor?.path == right.governor?.path
    }

    public var isSimulated: Bool { self != .real }

    static func machineMilliseconds() -> Int64 { Int64(Date().timeIntervalSince1970 * 1_000) }

    /// The segment in force: the governor's newest, or the fixed one.
    public var segment: ClockFile.Segment {
        governor?.read() ?? ClockFile.Segment(start: start, origin: origin, factor: factor)
    }

    /// Unix milliseconds, simulated or not.
    public func now() -> Int64 {
        let machine = Self.machineMilliseconds()
        guard isSimulated else { return machine }
        return segment.simulated(at: machine)
    }

    /// Waits `duration` of this clock's time.
    public func sleep(for duration: Duration) async throws {
        guard governor != nil else { return try await Task.sleep(for: isSimulated ? duration / factor : duration) }
        let milliseconds = duration.components.seconds * 1_000 + duration.components.attoseconds / 1_000_000_000_000_000
        try await sleep(untilMilliseconds: now() + max(0, milliseconds))
    }

    /// Waits until this clock reads `milliseconds` (at once when it already does). On a
    /// governed clock it wakes at least every `governedStep` to take a change of pace.
    public func sleep(untilMilliseconds milliseconds: Int64) async throws {
        guard governor != nil else {
            let left = milliseconds - now()
            if left > 0 { try await sleep(for: .milliseconds(left)) }
            return
        }
        while true {
            let segment = segment, left = milliseconds - segment.simulated(at: Self.machineMilliseconds())
            guard left > 0 else { return }
            try await Task.sleep(for: min(.milliseconds(left) / segment.factor, Self.governedStep))
        }
    }

    /// How long a governed clock's waits go without looking at its pace.
    static let governedStep: Duration = .milliseconds(20)

    /// What this clock's time is in machine seconds, for waits passed to other APIs (at the
    /// pace of the moment, on a governed clock).
    public func machineDuration(_ duration: Duration) -> Duration { isSimulated ? duration / segment.factor : duration }

    // MARK: - Passing it to the processes of a harness run

    /// The environment variable `xunfang up --simulated-clock` sets for every plugin it starts.
    public static let environmentKey = "XUNFANG_CLOCK"

    /// `simulated:<start>:<origin>:<factor>`, or `governed:<clock file>`.
    public var encoded: String { governor.map { "governed:\($0.path)" } ?? "simulated:\(start):\(origin):\(factor)" }

    /// The clock an environment says, the machine's when it says none.
    public static func from(environment: [String: String]) throws(SettingError) -> PluginClock {
        guard let text = environment[environmentKey], !text.isEmpty else { return .real }
        if text.hasPrefix("governed:") {
            let path = String(text.dropFirst("governed:".count))
            guard path.hasPrefix("/") else { throw SettingError("\(environmentKey) is \"\(text)\"; a governed clock names its clock file by its full path") }
            return try PluginClock(governedBy: ClockFile.open(at: path))
        }
        let parts = text.split(separator: ":")
        guard parts.count == 4, parts[0] == "simulated", let start = Int64(parts[1]), let origin = Int64(parts[2]),
              let factor = Double(parts[3]), factor >= 1, factor <= 10_000, start > 0, origin > 0 else {
            throw SettingError("\(environmentKey) is \"\(text)\"; it is set by xunfang harness as simulated:<start ms>:<origin ms>:<factor 1 to 10000>")
        }
        return PluginClock(start: start, origin: origin, factor: factor)
    }
}
