import Foundation

/// A county's roster from a CSV file (`DISPATCH_ROSTER`), one unit a line:
///
///     call_sign,kind,home_station,capabilities,crew,shift
///     C001,car,510000-01-01,armed;traffic,2,day
///
/// `kind` is car, motorcycle, e-bike, foot, special-police or drone; capabilities are
/// separated by `;` and may be empty; crew (default 2) and shift (default day) may be
/// left out. A header line starting with `call_sign` is skipped. Errors name the line.
public enum Roster {
    static let kinds: [String: UnitKind] = [
        "car": .car, "motorcycle": .motorcycle, "e-bike": .eBike, "foot": .foot, "special-police": .specialPolice, "drone": .drone,
    ]
    static let maxUnits = 20_000

    public static func parse(csv text: String) throws(DispatchError) -> [Unit] {
        var units: [Unit] = []
        var seen: Set<String> = []
        for (offset, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            let number = offset + 1
            if line.isEmpty || line.hasPrefix("#") || (offset == 0 && line.hasPrefix("call_sign")) { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard (3...6).contains(fields.count) else {
                throw DispatchError(.invalidArgument, "line \(number): expected call_sign,kind,home_station[,capabilities,crew,shift], got \(fields.count) fields")
            }
            let callSign = fields[0]
            guard (1...32).contains(callSign.count), callSign.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else {
                throw DispatchError(.invalidArgument, "line \(number): call sign \"\(callSign)\" must be 1 to 32 letters, digits, - or _")
            }
            guard seen.insert(callSign).inserted else { throw DispatchError(.invalidArgument, "line \(number): call sign \(callSign) appears twice") }
            guard let kind = kinds[fields[1]] else {
                throw DispatchError(.invalidArgument, "line \(number) (\(callSign)): kind \"\(fields[1])\" is not one of \(kinds.keys.sorted().joined(separator: ", "))")
            }
            guard !fields[2].isEmpty, fields[2].count <= 64 else { throw DispatchError(.invalidArgument, "line \(number) (\(callSign)): home_station is required") }
            let capabilities = fields.count > 3 ? Set(fields[3].split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }) : []
            var crew = 2
            if fields.count > 4 && !fields[4].isEmpty {
                guard let value = Int(fields[4]), (1...50).contains(value) else {
                    throw DispatchError(.invalidArgument, "line \(number) (\(callSign)): crew \"\(fields[4])\" must be 1 to 50")
                }
                crew = value
            }
            let shift = fields.count > 5 && !fields[5].isEmpty ? fields[5] : "day"
            units.append(Unit(callSign: callSign, kind: kind, homeStation: fields[2], capabilities: capabilities, crew: crew, shift: shift))
            guard units.count <= maxUnits else { throw DispatchError(.invalidArgument, "more than \(maxUnits) units") }
        }
        guard !units.isEmpty else { throw DispatchError(.invalidArgument, "the roster has no units") }
        return units
    }

    /// The stored units brought in line with a county's roster: new call signs are added,
    /// known ones take the roster's kind, station, capabilities, crew and shift and keep
    /// their status and position. Units the roster no longer lists are kept (they may be
    /// on an incident); the second list names them.
    public static func merge(stored: [Unit], roster: [Unit]) -> (units: [Unit], unlisted: [String]) {
        let byCallSign = Dictionary(uniqueKeysWithValues: stored.map { ($0.callSign, $0) })
        var merged = roster.map { entry -> Unit in
            guard var known = byCallSign[entry.callSign] else { return entry }
            known.kind = entry.kind
            known.homeStation = entry.homeStation
            known.capabilities = entry.capabilities
            known.crew = entry.crew
            known.shift = entry.shift
            return known
        }
        let listed = Set(roster.map(\.callSign))
        let unlisted = stored.filter { !listed.contains($0.callSign) }
        merged += unlisted
        return (merged, unlisted.map(\.callSign).sorted())
    }
}

/// The demo county's roster: 126 patrol cars (the documents' figure) plus motorcycles,
/// e-bikes, foot patrols and a special police team, spread over the demo stations. Their
/// positions arrive on `unit.position` from the terminals.
///
/// Capabilities are spread the way a county spreads them: every station has armed
/// response cars (every fourth of its cars, from its first) and traffic cars (every
/// fourth, from its third), so a knife attack or a collision finds one in the own station.
enum DemoRoster {
    static let stations = ["01", "02", "03"].flatMap { branch in (1...4).map { "510000-\(branch)-\(String(format: "%02d", $0))" } }

    static var units: [Unit] { units(cars: 126) }

    /// `cars` patrol cars (more than 126 for load tests) and the rest of the roster.
    static func units(cars: Int) -> [Unit] {
        var units: [Unit] = []
        for number in 1...max(1, cars) {
            let station = stations[(number - 1) % stations.count]
            let nthInStation = (number - 1) / stations.count
            let capabilities: Set<String> = switch nthInStation % 4 {
            case 0: ["armed"]
            case 2: ["traffic"]
            default: []
            }
            units.append(Unit(callSign: "C\(String(format: "%03d", number))", kind: .car, homeStation: station, capabilities: capabilities))
        }
        for number in 1...20 {
            units.append(Unit(callSign: "M\(String(format: "%03d", number))", kind: .motorcycle, homeStation: stations[(number - 1) % 4]))
            units.append(Unit(callSign: "E\(String(format: "%03d", number))", kind: .eBike, homeStation: stations[(number - 1) % 4]))
            units.append(Unit(callSign: "F\(String(format: "%03d", number))", kind: .foot, homeStation: stations[(number - 1) % 4], crew: 2))
        }
        for number in 1...6 {
            units.append(Unit(callSign: "SP\(number)", kind: .specialPolice, homeStation: "510000", capabilities: ["armed", "traffic"], crew: 6))
        }
        return units
    }
}
