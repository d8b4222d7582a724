import Foundation

/// The four-colour daily status (四色预警) of a station or grid, and the deployment level
/// it calls for.
public enum Colour: Int, Sendable, Codable, CaseIterable, Comparable {
    case green = 0, yellow, orange, red

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }

    public var name: String { ["green", "yellow", "orange", "red"][rawValue] }

    /// The documents' deployment levels: green → level 4, ≥ 1/5 of the force on patrol;
    /// yellow → level 3, ≥ 2/5; orange → level 2, ≥ 3/5; red → level 1, configurable
    /// (the documents leave it blank; default ≥ 4/5).
    public func minimumPatrolShare(red: Double = 0.8) -> Double {
        switch self {
        case .green: 0.2
        case .yellow: 0.4
        case .orange: 0.6
        case .red: red
        }
    }

    public var deploymentLevel: Int { 4 - rawValue }
}

/// Colours a count against its baseline with a one-sided test, so that a small count is
/// not turned red by noise: the colour is how unlikely a count this high is if nothing
/// changed.
///
/// The baseline is the same weekday over the previous 15 weeks plus the same day last
/// year. When those counts vary more than a Poisson would (variance > mean), the test uses
/// a negative binomial with the same mean and variance (method of moments); otherwise a
/// Poisson with the baseline mean.
public struct ColourRuleError: Error, Hashable, Sendable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

public struct ColourRule: Sendable, Hashable {
    /// Upper-tail probabilities at or below which the colour is reached.
    public var yellowBelow = 0.05
    public var orangeBelow = 0.01
    public var redBelow = 0.001
    /// The share of the force on patrol at red (the documents leave it open).
    public var redShare = 0.8

    public init() {}

    /// A county's own thresholds from settings (`SITUATION_YELLOW_P`, `SITUATION_ORANGE_P`,
    /// `SITUATION_RED_P`, `SITUATION_RED_SHARE`); a bad value is refused by name.
    public init(settings: [String: String]) throws(ColourRuleError) {
        func value(_ key: String, _ fallback: Double) throws(ColourRuleError) -> Double {
            guard let text = settings[key], !text.isEmpty else { return fallback }
            guard let number = Double(text), number.isFinite else { throw ColourRuleError(message: "\(key) is \"\(text)\", not a number") }
            return number
        }
        yellowBelow = try value("SITUATION_YELLOW_P", yellowBelow)
        orangeBelow = try value("SITUATION_ORANGE_P", orangeBelow)
        redBelow = try value("SITUATION_RED_P", redBelow)
        redShare = try value("SITUATION_RED_SHARE", redShare)
        guard redBelow > 0, redBelow <= orangeBelow, orangeBelow <= yellowBelow, yellowBelow < 1 else {
            throw ColourRuleError(message: "need 0 < SITUATION_RED_P ≤ SITUATION_ORANGE_P ≤ SITUATION_YELLOW_P < 1, got \(redBelow), \(orangeBelow), \(yellowBelow)")
        }
        guard redShare >= 0.6, redShare <= 1 else { throw ColourRuleError(message: "SITUATION_RED_SHARE \(redShare) must be between orange's 0.6 and 1") }
    }

    public func minimumPatrolShare(_ colour: Colour) -> Double { colour.minimumPatrolShare(red: redShare) }

    public struct Judgement: Sendable, Hashable {
        public var colour: Colour
        /// P(X ≥ count) under the baseline.
        public var pUpper: Double
        public var baselineMean: Double
        public var overdispersed: Bool
    }

    public func judge(count: Int, baseline: [Int]) -> Judgement {
        let mean = baseline.isEmpty ? 0 : Double(baseline.reduce(0, +)) / Double(baseline.count)
        let variance = baseline.count > 1
            ? baseline.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(baseline.count - 1) : mean
        let overdispersed = variance > mean && mean > 0
        let p: Double
        if count <= 0 {
            p = 1
        } else if mean == 0 {
            // Nothing ever happened here: any incident is as unusual as it gets, but one is
            // not a pattern. Treat the baseline as one event over the period observed.
            p = Self.poissonUpper(count, mean: 1 / Double(max(1, baseline.count)))
        } else if overdispersed {
            let size = mean * mean / (variance - mean)
            p = Self.negativeBinomialUpper(count, size: size, mean: mean)
        } else {
            p = Self.poissonUpper(count, mean: mean)
        }
        let colour: Colour = p <= redBelow ? .red : p <= orangeBelow ? .orange : p <= yellowBelow ? .yellow : .green
        return Judgement(colour: colour, pUpper: p, baselineMean: mean, overdispersed: overdispersed)
    }

    /// P(X ≥ k) for X ~ Poisson(mean).
    static func poissonUpper(_ k: Int, mean: Double) -> Double {
        guard k > 0 else { return 1 }
        guard mean > 0 else { return 0 }
        return upperTail(k, mean: mean, logTerm: { i in -mean + Double(i) * log(mean) - lgamma(Double(i) + 1) },
                         nextRatio: { i in mean / Double(i + 1) })
    }

    /// P(X ≥ k) for a negative binomial with `size` r and `mean` μ (p = r / (r + μ)).
    static func negativeBinomialUpper(_ k: Int, size r: Double, mean: Double) -> Double {
        guard k > 0 else { return 1 }
        guard mean > 0 else { return 0 }
        let p = r / (r + mean)
        return upperTail(k, mean: mean,
                         logTerm: { i in lgamma(Double(i) + r) - lgamma(r) - lgamma(Double(i) + 1) + r * log(p) + Double(i) * log1p(-p) },
                         nextRatio: { i in (Double(i) + r) / Double(i + 1) * (1 - p) })
    }

    /// P(X ≥ k) for a unimodal count distribution given log P(X = i) and P(X = i + 1) / P(X = i).
    /// Terms are scaled by the one at the tail's start, whose logarithm is exact (P(X = 0)
    /// alone underflows past a mean of about 745), and the smaller tail is summed: above
    /// the mean the upper one, else one minus the lower; both fall away from the mode.
    static func upperTail(_ k: Int, mean: Double, logTerm: (Int) -> Double, nextRatio: (Int) -> Double) -> Double {
        var sum = 0.0, ratio = 1.0
        if Double(k) > mean {
            var i = k
            while ratio > 1e-17 * sum {   // term(i) / term(k)
                sum += ratio
                ratio *= nextRatio(i)
                i += 1
            }
            return min(1, exp(logTerm(k)) * sum)
        }
        var i = k - 1
        while i >= 0, ratio > 1e-17 * sum {   // term(i) / term(k - 1)
            sum += ratio
            if i > 0 { ratio /= nextRatio(i - 1) }
            i -= 1
        }
        return max(0, 1 - exp(logTerm(k - 1)) * sum)
    }
}
