import Foundation

/// How every `xunfang bench ...` prints: one table for people, then one JSON line for
/// scripts (`Benchmarks/run-*` read the JSON). Plugins with benches of their own use it too.
public enum BenchReport {
    public static func print(bench: String, title: String, parameters: [String: Double], results: [(String, String, Double)], jsonOnly: Bool) {
        var object: [String: Double] = [:]
        for (name, unit, value) in results { object["\(name) [\(unit)]"] = (value * 1000).rounded() / 1000 }
        var document: [String: Any] = ["bench": bench, "results": object]
        for (key, value) in parameters { document[key] = value }
        let data = (try? JSONSerialization.data(withJSONObject: document, options: [.sortedKeys])) ?? Data()
        if !jsonOnly {
            Swift.print(title)
            let width = max(34, results.map(\.0.count).max() ?? 0)
            for (name, unit, value) in results {
                Swift.print(name.padding(toLength: width, withPad: " ", startingAt: 0), String(format: "%14.3f", value), unit)
            }
        }
        Swift.print(String(decoding: data, as: UTF8.self))
    }

    /// How long `body` takes, in milliseconds.
    public static func milliseconds(_ body: () throws -> Void) rethrows -> Double {
        let started = ContinuousClock.now
        try body()
        return (ContinuousClock.now - started).seconds * 1_000
    }

    /// The value at `share` (0...1) of the sorted values, rounding up (0 when empty).
    public static func percentile(_ values: [Double], _ share: Double) -> Double {
        guard !values.isEmpty else { return 0 }
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count - 1) * share).rounded(.up)))]
    }
}

extension Duration {
    /// As a floating-point number of seconds, for benchmark figures.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
