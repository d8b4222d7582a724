import Foundation

/// Two strategies on the same seeded days: each figure's mean under each, and the mean of
/// the paired differences (B − A) with its 95% confidence interval (Student's t over the
/// seeds, since the same calls meet both strategies).
public enum Comparison {
    public struct Row: Sendable, Codable, Equatable {
        public var figure: String
        public var a: Double
        public var b: Double
        public var difference: Double
        public var low: Double
        public var high: Double

        /// The interval leaves out zero: the strategies differ at 95%.
        public var differs: Bool { low > 0 || high < 0 }
    }

    /// The figures a run is compared by.
    public static func figures(_ facts: RunFacts) -> [(String, Double)] {
        let shares = Verdict.responseShares(facts)
        let own = facts.incidents.filter { !$0.linked }
        let minutes = own.filter { $0.onScene > 0 }.map { Double($0.onScene - $0.received) / 60_000 }.sorted()
        let median = minutes.isEmpty ? 0 : minutes.count % 2 == 1 ? minutes[minutes.count / 2] : (minutes[minutes.count / 2 - 1] + minutes[minutes.count / 2]) / 2
        return [("on scene within 1 min", shares[1] ?? 0), ("on scene within 3 min", shares[3] ?? 0), ("on scene within 5 min", shares[5] ?? 0),
                ("median minutes to scene", median), ("dispatched share", own.isEmpty ? 0 : Double(own.filter { $0.dispatched > 0 }.count) / Double(own.count))]
    }

    /// One row per figure from runs paired by seed.
    public static func rows(_ pairs: [(a: RunFacts, b: RunFacts)]) -> [Row] {
        guard let first = pairs.first else { return [] }
        return figures(first.a).indices.map { index in
            let a = pairs.map { figures($0.a)[index].1 }, b = pairs.map { figures($0.b)[index].1 }
            let differences = zip(b, a).map { $0 - $1 }
            let (mean, half) = interval(differences)
            return Row(figure: figures(first.a)[index].0, a: average(a), b: average(b), difference: mean, low: mean - half, high: mean + half)
        }
    }

    /// The mean and the half-width of its 95% interval (infinite with one value).
    public static func interval(_ values: [Double]) -> (mean: Double, halfWidth: Double) {
        let mean = average(values)
        guard values.count > 1 else { return (mean, .infinity) }
        let variance = values.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(values.count - 1)
        return (mean, studentT975(degrees: values.count - 1) * (variance / Double(values.count)).squareRoot())
    }

    static func average(_ values: [Double]) -> Double { values.isEmpty ? 0 : values.reduce(0, +) / Double(values.count) }

    /// The 97.5% quantile of Student's t (two-sided 95%).
    public static func studentT975(degrees: Int) -> Double {
        let table: [Double] = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160, 2.145, 2.131,
                               2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042]
        guard degrees >= 1 else { return .infinity }
        return degrees <= table.count ? table[degrees - 1] : 1.96 + 2.4 / Double(degrees)
    }

    /// The two scenarios must make the same calls: the same day, hours and scale.
    public static func sameDay(_ a: Scenario, _ b: Scenario) throws(HarnessError) {
        guard a.start == b.start, a.hours == b.hours, a.callsScale == b.callsScale else {
            throw HarnessError("\(a.name) and \(b.name) must share start, hours and calls_scale, so that both meet the same calls")
        }
    }
}
