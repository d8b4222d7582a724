import Foundation

/// A hypercube validation case (`hypercube:` in a scenario): the whole stack run on the
/// world Larson's model assumes, and its busy shares, losses and travel judged against the
/// model's. One on-duty car of each named station waits at its station house (the terminal
/// simulator's `TERMINAL_WAIT_AT_STATION`), goes out only on an order and is back in
/// service when it is home again; calls come as Poisson streams at fixed places (the
/// atoms); time on scene is exponential; the harness dispatches each call to the first
/// unit of the atom's fixed preference (nearest by road) that is free, and a call that
/// finds every unit busy is lost (closed, zero line capacity).
public struct HypercubeCase: Sendable, Codable, Equatable {
    public struct Atom: Sendable, Codable, Equatable {
        /// The station whose house the atom is placed from, and how far east and north of it.
        public var station: String
        public var eastMetres: Double
        public var northMetres: Double
        /// Poisson calls an hour.
        public var perHour: Double

        public init(station: String, eastMetres: Double, northMetres: Double, perHour: Double) {
            self.station = station
            self.eastMetres = eastMetres
            self.northMetres = northMetres
            self.perHour = perHour
        }

        enum CodingKeys: String, CodingKey, CaseIterable { case station, eastMetres = "east_metres", northMetres = "north_metres", perHour = "per_hour" }
    }

    /// One car on duty from each of these stations (the first call sign on duty when the calls begin).
    public var stations: [String]
    /// The incident type of every call (one a car answers).
    public var type: String
    /// Mean of the exponential time on scene, minutes.
    public var sceneMinutes: Double
    public var atoms: [Atom]
    /// The call hours are cut into this many batches for the 95% intervals; the first is the warm-up and left out.
    public var batches: Int

    public init(stations: [String], type: String, sceneMinutes: Double, atoms: [Atom], batches: Int = 8) {
        self.stations = stations
        self.type = type
        self.sceneMinutes = sceneMinutes
        self.atoms = atoms
        self.batches = batches
    }

    enum CodingKeys: String, CodingKey, CaseIterable { case stations, type, sceneMinutes = "scene_minutes", atoms, batches }

    public init(from decoder: any Decoder) throws {
        let values = try decoder.container(keyedBy: CodingKeys.self)
        stations = try values.decode([String].self, forKey: .stations)
        type = try values.decode(String.self, forKey: .type)
        sceneMinutes = try values.decode(Double.self, forKey: .sceneMinutes)
        atoms = try values.decode([Atom].self, forKey: .atoms)
        batches = try values.decodeIfPresent(Int.self, forKey: .batches) ?? 8
    }

    static let keys = CodingKeys.allCases.map(\.rawValue)
    static let atomKeys = Atom.CodingKeys.allCases.map(\.rawValue)

    func validate() throws(HarnessError) {
        guard (2...12).contains(stations.count), Set(stations).count == stations.count else {
            throw HarnessError("hypercube.stations: 2 to 12 different stations (one unit each)")
        }
        guard !type.isEmpty, (0.5...600).contains(sceneMinutes), (3...50).contains(batches) else {
            throw HarnessError("hypercube: a type, scene_minutes 0.5 to 600 and batches 3 to 50")
        }
        guard (1...50).contains(atoms.count) else { throw HarnessError("hypercube.atoms: 1 to 50 atoms") }
        for (index, atom) in atoms.enumerated() {
            guard stations.contains(atom.station) else { throw HarnessError("hypercube.atoms[\(index)]: station \(atom.station) is not one of hypercube.stations") }
            guard abs(atom.eastMetres) <= 20_000, abs(atom.northMetres) <= 20_000, (0...120).contains(atom.perHour) else {
                throw HarnessError("hypercube.atoms[\(index)]: offsets within 20 km and per_hour 0 to 120")
            }
        }
    }

    /// Each atom's place, from its station house's (`houses` by station id).
    public func places(houses: [String: (longitude: Double, latitude: Double)]) throws(HarnessError) -> [(longitude: Double, latitude: Double)] {
        try atoms.map { atom throws(HarnessError) in
            guard let house = houses[atom.station] else { throw HarnessError("hypercube: the county has no station house for \(atom.station)") }
            let metresPerDegree = 111_320.0
            return (house.longitude + atom.eastMetres / (metresPerDegree * cos(house.latitude * .pi / 180)), house.latitude + atom.northMetres / metresPerDegree)
        }
    }

    /// The calls in `from ..< to`: each atom's Poisson stream, seeded, in time order, ids `H<seed>-<n>`.
    public func calls(at places: [(longitude: Double, latitude: Double)], from: Int64, to: Int64, seed: UInt64) -> [Call] {
        var coin = Calls.Coin(state: seed &* 0x9E37_79B9_7F4A_7C15 | 1)
        var calls: [Call] = []
        for (atom, place) in zip(atoms, places) where atom.perHour > 0 {
            var at = Double(from)
            while true {
                at += -log(1 - coin.next()) / atom.perHour * 3_600_000
                guard at < Double(to) else { break }
                calls.append(Call(id: "", at: Int64(at), type: type, longitude: place.longitude, latitude: place.latitude))
            }
        }
        calls.sort { $0.at < $1.at }
        return calls.enumerated().map { index, call in
            var call = call
            call.id = "H\(seed)-\(index + 1)"
            return call
        }
    }

    /// The model of the run: the measured road times from each unit to each atom, each atom's
    /// units nearest first, and each unit's service rate from the mean time it is out: the
    /// acknowledgement, the drive there, the time on scene and the drive home. A unit's
    /// drives are the model's own mean over the calls it takes, found by fixed point (a unit
    /// that covers far atoms is out longer; one rate for all would understate how busy it is).
    public func model(travel: [[Double]], acknowledgeSeconds: Double) throws(HarnessError) -> Hypercube {
        guard travel.count == stations.count, travel.allSatisfy({ $0.count == atoms.count }) else {
            throw HarnessError("hypercube: a road time from each unit to each atom is needed")
        }
        let hypercubeAtoms = atoms.indices.map { atom in
            Hypercube.Atom(rate: atoms[atom].perHour / 3_600, preference: stations.indices.sorted { (travel[$0][atom], $0) < (travel[$1][atom], $1) },
                           travel: stations.indices.map { travel[$0][atom] })
        }
        let fixed = acknowledgeSeconds + sceneMinutes * 60
        var drives = stations.indices.map { unit in travel[unit].min() ?? 0 }
        var model = try Hypercube(servers: stations.count, atoms: hypercubeAtoms, serviceRates: drives.map { 1 / (fixed + 2 * $0) })
        for _ in 0..<50 {
            let dispatches = model.solve().dispatches
            let next = stations.indices.map { unit in
                let share = dispatches[unit].reduce(0, +)
                return share > 0 ? atoms.indices.map { dispatches[unit][$0] * travel[unit][$0] }.reduce(0, +) / share : drives[unit]
            }
            model = try Hypercube(servers: stations.count, atoms: hypercubeAtoms, serviceRates: next.map { 1 / (fixed + 2 * $0) })
            if zip(next, drives).allSatisfy({ abs($0 - $1) < 1e-6 }) { break }
            drives = next
        }
        return model
    }
}

/// What a hypercube run saw: the units, their road times, when each was busy, and each call's fate.
public struct HypercubeObservation: Sendable, Codable, Equatable {
    public struct Change: Sendable, Codable, Equatable {
        public var unit: Int
        public var busy: Bool
        public var at: Int64
        public init(unit: Int, busy: Bool, at: Int64) {
            self.unit = unit
            self.busy = busy
            self.at = at
        }
    }

    public struct Dispatch: Sendable, Codable, Equatable {
        public var at: Int64
        public var incident: String
        public var atom: Int
        /// The unit sent (index into `units`); nil: every unit busy, the call lost.
        public var unit: Int?
        /// Seconds from the order to the acknowledgement, and from it to on scene (0: not known).
        public var acknowledgeSeconds: Double = 0
        public var travelSeconds: Double = 0
        public init(at: Int64, incident: String, atom: Int, unit: Int?) {
            self.at = at
            self.incident = incident
            self.atom = atom
            self.unit = unit
        }
    }

    /// Call signs, one per station in the case's order.
    public var units: [String]
    /// Road seconds from each unit's station to each atom, `[unit][atom]`, as GridModel estimates them.
    public var travel: [[Double]]
    public var changes: [Change]
    public var dispatches: [Dispatch]
    /// The calls' period, simulated Unix ms.
    public var from: Int64
    public var to: Int64

    public init(units: [String], travel: [[Double]], changes: [Change] = [], dispatches: [Dispatch] = [], from: Int64, to: Int64) {
        self.units = units
        self.travel = travel
        self.changes = changes
        self.dispatches = dispatches
        self.from = from
        self.to = to
    }

    /// Per batch (the first left out): each unit's busy share, the share of calls lost, and
    /// the mean travel of calls answered; each a mean with its 95% half-width over batches.
    public func intervals(batches: Int) -> (busy: [(mean: Double, halfWidth: Double)], lost: (mean: Double, halfWidth: Double), travel: (mean: Double, halfWidth: Double)) {
        let length = Double(to - from) / Double(batches)
        let windows = (1..<batches).map { (from + Int64(Double($0) * length), from + Int64(Double($0 + 1) * length)) }
        let busy = units.indices.map { unit in
            Comparison.interval(windows.map { Double(busyMilliseconds(unit, in: $0)) / Double($0.1 - $0.0) })
        }
        let lost = Comparison.interval(windows.map { window in
            let offered = dispatches.filter { $0.at >= window.0 && $0.at < window.1 }
            return Double(offered.filter { $0.unit == nil }.count) / Double(max(1, offered.count))
        })
        let travel = Comparison.interval(windows.map { window in
            let answered = dispatches.filter { $0.at >= window.0 && $0.at < window.1 && $0.unit != nil && $0.travelSeconds > 0 }
            return answered.map(\.travelSeconds).reduce(0, +) / Double(max(1, answered.count))
        })
        return (busy, lost, travel)
    }

    /// Milliseconds `unit` was busy within `window` (free before its first change).
    func busyMilliseconds(_ unit: Int, in window: (Int64, Int64)) -> Int64 {
        var total: Int64 = 0, busySince: Int64?
        for change in changes where change.unit == unit {
            if change.busy, busySince == nil {
                busySince = change.at
            } else if !change.busy, let since = busySince {
                total += max(0, min(change.at, window.1) - max(since, window.0))
                busySince = nil
            }
        }
        if let since = busySince { total += max(0, window.1 - max(since, window.0)) }
        return total
    }

    /// The model's figures against the run's, each within the run's 95% interval.
    public func checks(_ hypercubeCase: HypercubeCase) -> [Check] {
        let acknowledged = dispatches.filter { $0.acknowledgeSeconds > 0 }.map(\.acknowledgeSeconds)
        let acknowledge = acknowledged.isEmpty ? 0 : acknowledged.reduce(0, +) / Double(acknowledged.count)
        let model: Hypercube
        do {
            model = try hypercubeCase.model(travel: travel, acknowledgeSeconds: acknowledge)
        } catch {
            return [Check("hypercube: busy shares agree", false, error.description)]
        }
        let exact = model.solve(), seen = intervals(batches: hypercubeCase.batches)
        func within(_ value: Double, _ interval: (mean: Double, halfWidth: Double)) -> Bool { abs(value - interval.mean) <= interval.halfWidth }
        func share(_ value: Double) -> String { String(format: "%.3f", value) }
        let calls = dispatches.count, lost = dispatches.filter { $0.unit == nil }.count
        let busy = units.indices.map { "\(units[$0]) \(share(seen.busy[$0].mean)) ± \(share(seen.busy[$0].halfWidth)) (model \(share(exact.busy[$0])))" }
        return [
            Check("hypercube: busy shares agree", units.indices.allSatisfy { within(exact.busy[$0], seen.busy[$0]) },
                  busy.joined(separator: "; ") + "; \(calls) calls; mean time out " + model.serviceRates.map { String(format: "%.0f", 1 / $0) }.joined(separator: "/") + " s"),
            Check("hypercube: lost share agrees", within(exact.lost, seen.lost),
                  "\(share(seen.lost.mean)) ± \(share(seen.lost.halfWidth)) (model \(share(exact.lost))); \(lost) of \(calls) calls found every unit busy"),
            Check("hypercube: mean travel agrees", within(exact.meanTravel, seen.travel),
                  String(format: "%.0f ± %.0f s (model %.0f s)", seen.travel.mean, seen.travel.halfWidth, exact.meanTravel)),
        ]
    }
}

extension HypercubeCase {
    /// The road junction nearest `place` among road segments' ends (`coordinates` as GridModel's
    /// `Roads` gives them: lon, lat, lon, lat per segment, micro-degrees): calls come from the
    /// road itself, so no walk from the road blurs the travel times compared.
    public static func nearestJunction(to place: (longitude: Double, latitude: Double), coordinates: [Int32]) -> (longitude: Double, latitude: Double)? {
        let scale = cos(place.latitude * .pi / 180)
        var best: (longitude: Double, latitude: Double)?, bestDistance = Double.infinity
        for index in stride(from: 0, to: coordinates.count - 1, by: 2) {
            let longitude = Double(coordinates[index]) / 1e6, latitude = Double(coordinates[index + 1]) / 1e6
            let dx = (longitude - place.longitude) * scale, dy = latitude - place.latitude
            if dx * dx + dy * dy < bestDistance {
                bestDistance = dx * dx + dy * dy
                best = (longitude, latitude)
            }
        }
        return best
    }
}
