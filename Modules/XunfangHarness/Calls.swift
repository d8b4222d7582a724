import Foundation
import XunfangPluginKit

/// A 110 call the harness makes: what, where, when (simulated Unix ms).
public struct Call: Sendable, Hashable, Codable {
    public var id: String
    public var at: Int64
    public var type: String
    public var longitude: Double
    public var latitude: Double

    public init(id: String, at: Int64, type: String, longitude: Double, latitude: Double) {
        self.id = id
        self.at = at
        self.type = type
        self.longitude = longitude
        self.latitude = latitude
    }
}

/// The calls of a scenario, from the demo county's seeded history (hour × weekday × place ×
/// type, with its hot spots), as `xunfang situation demo-history` writes it.
public enum Calls {
    /// The days (China day numbers) whose history covers `from ..< to`.
    public static func days(from: Int64, to: Int64) -> ClosedRange<Int64> {
        ChinaTime.dayNumber(from)...ChinaTime.dayNumber(to - 1)
    }

    /// `id,time,type,lon,lat,place_type` rows; a bad row is named by its line.
    public static func parse(csv: String) throws(HarnessError) -> [Call] {
        var calls: [Call] = []
        for (index, line) in csv.split(separator: "\n", omittingEmptySubsequences: false).enumerated() where index > 0 && !line.isEmpty {
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            guard fields.count >= 5, let at = ChinaTime.parse(fields[1]), let longitude = Double(fields[3]), let latitude = Double(fields[4]), !fields[2].isEmpty else {
                throw HarnessError("history line \(index + 1): \"\(line)\" is not id,time,type,lon,lat")
            }
            calls.append(Call(id: fields[0], at: at, type: fields[2], longitude: longitude, latitude: latitude))
        }
        return calls
    }

    /// The calls in `from ..< to` at `scale` times the history's rate: whole draws (each a
    /// history of its own seed) plus a seeded share of one more. Ids are the harness's own,
    /// `H<seed>-<n>`, in time order.
    public static func select(_ draws: [[Call]], from: Int64, to: Int64, scale: Double, seed: UInt64) -> [Call] {
        var chosen: [Call] = []
        var coin = Coin(state: seed &* 0x9E37_79B9_7F4A_7C15 | 1)
        for (index, draw) in draws.enumerated() {
            let keep = min(1, max(0, scale - Double(index)))
            guard keep > 0 else { break }
            chosen += draw.filter { $0.at >= from && $0.at < to && (keep >= 1 || coin.next() < keep) }
        }
        chosen.sort { ($0.at, $0.id) < ($1.at, $1.id) }
        return chosen.enumerated().map { index, call in
            var call = call
            call.id = "H\(seed)-\(index + 1)"
            return call
        }
    }

    /// How many whole histories `scale` needs.
    public static func draws(for scale: Double) -> Int { Int(scale.rounded(.up)) }

    /// A small seeded generator (splitmix64): the same seed, the same calls.
    struct Coin {
        var state: UInt64
        mutating func next() -> Double {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return Double((z ^ (z >> 31)) >> 11) / Double(1 << 53)
        }
    }
}
