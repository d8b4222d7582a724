/// The pace of an adaptive run's clock: as fast as the stack keeps up with, never faster
/// than the scenario's factor. Every machine millisecond a message spends in the stack is
/// `factor` simulated milliseconds added to whatever is being timed; the governor keeps a
/// probe call's round trip within `budget` simulated seconds. It slows down at once when a
/// round trip grows and speeds up by at most a quarter a step, on the smoothed round trip,
/// so one quick answer in a busy minute does not race the clock ahead. Pure.
public struct ClockGovernor: Sendable, Equatable {
    public let ceiling: Double
    public let floor: Double
    /// Simulated seconds a probe's round trip may take.
    public let budget: Double
    public private(set) var factor: Double
    /// Machine seconds, smoothed.
    public private(set) var roundTrip: Double?

    public init(ceiling: Double, floor: Double = 5, budget: Double = 1, start: Double = 30) {
        self.ceiling = ceiling
        self.floor = min(floor, ceiling)
        self.budget = budget
        factor = min(max(start, self.floor), ceiling)
    }

    /// The pace after a probe that took `seconds` of machine time.
    public mutating func observe(roundTrip seconds: Double) -> Double {
        let smoothed = roundTrip.map { 0.8 * $0 + 0.2 * seconds } ?? seconds
        roundTrip = smoothed
        let fits = budget / max(max(seconds, smoothed), 1e-5)
        factor = min(ceiling, max(floor, min(fits, factor * 1.25)))
        return factor
    }
}
