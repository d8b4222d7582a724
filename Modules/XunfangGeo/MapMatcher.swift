import Foundation

/// Map matching by a hidden Markov model, in the manner of Newson & Krumm (2009), as
/// Valhalla's Meili, OSRM's match and FMM do: each fix's candidates are the road arcs within
/// a radius (emission: the fix's distance from the arc, normal with the GPS error); between
/// two fixes, the road distance from one candidate to the next should match the straight
/// distance between the fixes (transition: exponential in their difference). Viterbi picks
/// the likeliest sequence; the arcs between consecutive choices fill in the drive.
///
/// A fix with no road within the radius is left unmatched; where no road joins two fixes
/// the model breaks and starts again. Fixes closer than two GPS errors to the fix before
/// are left out of the model (a parked car's noise is not a drive), as Newson & Krumm do.
public struct MapMatcher: Sendable {
    public struct Settings: Sendable {
        /// GPS error, metres (the standard deviation of the distance to the road).
        public var sigma = 10.0
        /// Transition scale, metres: how much road and straight distances may differ.
        public var beta = 5.0
        /// How far from a fix its candidate roads may lie, metres.
        public var radius = 50.0
        public var maxCandidates = 8
        public var mode: TravelMode = .car

        public init() {}
    }

    public struct Fix: Sendable {
        /// Seconds (any epoch); non-decreasing along a track.
        public var time: Double
        public var point: GeoPoint

        public init(time: Double, point: GeoPoint) {
            self.time = time
            self.point = point
        }
    }

    public struct MatchedArc: Sendable, Equatable {
        public var arc: Int
        /// When the drive entered the arc (seconds, the fixes' epoch); interpolated by distance.
        public var entered: Double
    }

    public struct Result: Sendable {
        public var arcs: [MatchedArc]
        /// Fixes with no road within the radius.
        public var unmatched: [Int]
        /// Where the model had to start again (no road joined two fixes).
        public var breaks: Int
    }

    public let graph: RoadGraph
    public let settings: Settings
    let projection: LocalProjection
    let points: [PlanarPoint]
    let index: SpatialIndex
    let open: [Bool]

    public init(graph: RoadGraph, speeds: SpeedTable = .default, settings: Settings = Settings()) {
        self.graph = graph
        self.settings = settings
        projection = LocalProjection(origin: GeoPoint.middle(of: graph.coordinates) ?? GeoPoint(longitude: 0, latitude: 0))
        let points = graph.coordinates.map(projection.project)
        self.points = points
        let tails = (0..<graph.arcCount).map(graph.tail(ofArc:))
        index = SpatialIndex(boxes: (0..<graph.arcCount).map { BoundingBox(covering: [points[tails[$0]], points[Int(graph.arcHead[$0])]]) })
        open = (0..<graph.arcCount).map { speeds.metresPerSecond(settings.mode, graph.arcClass[$0]) > 0 }
    }

    /// GPS error makes a car seem to go back a little on the road it is on: taken as
    /// standing still, not as a loop round the block.
    var backwardSlack: Double { 3 * settings.sigma }
    /// What a U-turn onto the road just driven costs on top of its length.
    var uTurnMetres: Double { 2 * settings.radius }

    struct Candidate: Sendable {
        let arc: Int
        /// Metres along the arc from its tail.
        let offset: Double
        let distance: Double
    }

    func candidates(near point: PlanarPoint) -> [Candidate] {
        let box = BoundingBox(minX: point.x - settings.radius, minY: point.y - settings.radius, maxX: point.x + settings.radius, maxY: point.y + settings.radius)
        var found: [Candidate] = []
        for arc in index.candidates(intersecting: box) where open[arc] {
            let tail = points[graph.tail(ofArc: arc)], head = points[Int(graph.arcHead[arc])]
            let onRoad = point.closest(onSegment: tail, head)
            let distance = onRoad.distance(to: point)
            guard distance <= settings.radius else { continue }
            let along = tail.distance(to: onRoad), straight = tail.distance(to: head)
            found.append(Candidate(arc: arc, offset: straight > 0 ? along / straight * graph.arcLength[arc] : 0, distance: distance))
        }
        return Array(found.sorted { $0.distance < $1.distance }.prefix(settings.maxCandidates))
    }

    /// One step of the model: the fix kept, its candidates, and each candidate's best
    /// score and the candidate before it.
    struct Step: Sendable {
        let fix: Int
        let time: Double
        let point: PlanarPoint
        let candidates: [Candidate]
        let emission: [Double]
        var score: [Double]
        var previous: [Int]
        /// Starts a new piece of the model (the first, or after a break).
        var starts: Bool
    }

    /// Whether a fix is left out of the model: too near the one kept before (noise, not a drive).
    func isStill(_ point: PlanarPoint, after last: Step?) -> Bool {
        guard let last else { return false }
        return point.distance(to: last.point) < 2 * settings.sigma
    }

    /// The fix as the model's next step after `last`, with the road metres from each of
    /// `last`'s candidates to each of its own (nil: no road within the radius).
    func step(fix index: Int, time: Double, point: PlanarPoint, after last: Step?, search: ShortestPathSearch) -> (step: Step, roads: [[Double]])? {
        let candidates = candidates(near: point)
        guard !candidates.isEmpty else { return nil }
        let emission = candidates.map { -0.5 * ($0.distance / settings.sigma) * ($0.distance / settings.sigma) }
        var step = Step(fix: index, time: time, point: point, candidates: candidates, emission: emission, score: emission,
                        previous: Array(repeating: -1, count: candidates.count), starts: true)
        guard let last else { return (step, []) }
        let straight = last.point.distance(to: point)
        let roads = last.candidates.indices.map { a in
            last.score[a] > -.infinity ? roadDistances(from: last.candidates[a], to: candidates, straight: straight, search: search) : candidates.map { _ in .infinity }
        }
        forward(&step, after: last, roads: roads)
        return (step, roads)
    }

    /// The step's scores from the step before and the road metres between their candidates;
    /// a break (a new piece) when no road joins them.
    func forward(_ step: inout Step, after last: Step, roads: [[Double]]) {
        let straight = last.point.distance(to: step.point)
        var best = Array(repeating: -Double.infinity, count: step.candidates.count), from = Array(repeating: -1, count: step.candidates.count)
        for (a, row) in roads.enumerated() where last.score[a] > -.infinity {
            for (b, road) in row.enumerated() where road < .infinity {
                let score = last.score[a] - abs(road - straight) / settings.beta
                if score > best[b] { (best[b], from[b]) = (score, a) }
            }
        }
        if best.contains(where: { $0 > -.infinity }) {
            step.score = zip(best, step.emission).map { $0 + $1 }
            step.previous = from
            step.starts = false
        } else {
            step.score = step.emission
            step.previous = Array(repeating: -1, count: step.candidates.count)
            step.starts = true
        }
    }

    /// The search the model's road distances are measured with (one per thread at a time).
    public func makeSearch() -> ShortestPathSearch {
        ShortestPathSearch(graph: graph, weights: graph.arcLength.indices.map { open[$0] ? graph.arcLength[$0] : .infinity })
    }

    public func match(_ fixes: [Fix]) -> Result {
        let search = makeSearch()
        var steps: [Step] = [], unmatched: [Int] = [], breaks = 0
        for (index, fix) in fixes.enumerated() {
            let point = projection.project(fix.point)
            if index != fixes.count - 1, isStill(point, after: steps.last) { continue }
            guard let (step, _) = step(fix: index, time: fix.time, point: point, after: steps.last, search: search) else {
                unmatched.append(index)
                continue
            }
            if step.starts, !steps.isEmpty { breaks += 1 }
            steps.append(step)
        }
        return Result(arcs: drive(steps, search: search), unmatched: unmatched, breaks: breaks)
    }

    /// Road metres from `from` to each of `targets`: along the same arc, or out of its head
    /// and into the target's arc at its tail.
    func roadDistances(from: Candidate, to targets: [Candidate], straight: Double, search: ShortestPathSearch) -> [Double] {
        let rest = graph.arcLength[from.arc] - from.offset
        let limit = rest + 2 * straight + 2 * settings.radius + 100
        let tails = targets.map { graph.tail(ofArc: $0.arc) }
        search.run(from: [(Int(graph.arcHead[from.arc]), rest)], limit: limit, targets: Array(Set(tails)))
        let fromTail = graph.tail(ofArc: from.arc), fromHead = Int(graph.arcHead[from.arc])
        return zip(targets, tails).map { target, tail in
            if target.arc == from.arc, target.offset >= from.offset - backwardSlack { return max(0, target.offset - from.offset) }
            let cost = search.cost(tail)
            guard cost.isFinite else { return .infinity }
            // Turning straight back is what noise does far more often than drivers: it costs extra.
            let uTurn = tail == fromHead && Int(graph.arcHead[target.arc]) == fromTail
            return cost + target.offset + (uTurn ? uTurnMetres : 0)
        }
    }

    /// The likeliest candidate of each step: from each piece's end back along the pointers.
    func choices(_ steps: [Step]) -> [Int] {
        var chosen = Array(repeating: 0, count: steps.count)
        var index = steps.count - 1
        while index >= 0 {
            chosen[index] = steps[index].score.indices.max { steps[index].score[$0] < steps[index].score[$1] } ?? 0
            while !steps[index].starts {
                chosen[index - 1] = steps[index].previous[chosen[index]]
                index -= 1
            }
            index -= 1
        }
        return chosen
    }

    /// The best sequence back from each piece's end, and the arcs that join its choices.
    func drive(_ steps: [Step], search: ShortestPathSearch) -> [MatchedArc] {
        let chosen = choices(steps)
        return steps.indices.flatMap { position in
            let step = steps[position], ends = position + 1 == steps.count || steps[position + 1].starts
            let before = step.starts ? nil : (steps[position - 1].candidates[chosen[position - 1]], steps[position - 1].time)
            return arcs(to: step.candidates[chosen[position]], at: step.time, from: before, ends: ends, search: search)
        }
    }

    /// The arcs driven to reach `here` (a step's choice) from the choice before it; `before`
    /// nil starts a piece. `ends`: `here` is the last of its piece.
    func arcs(to here: Candidate, at time: Double, from before: (candidate: Candidate, time: Double)?, ends: Bool, search: ShortestPathSearch) -> [MatchedArc] {
        guard let (before, then) = before else {
            // A piece's first arc counts unless the fix lies at its very end (the drive
            // starts at the junction, not on the road that leads into it).
            return ends || graph.arcLength[here.arc] - here.offset > backwardSlack ? [MatchedArc(arc: here.arc, entered: time)] : []
        }
        if here.arc == before.arc && here.offset >= before.offset - backwardSlack { return [] }
        let rest = graph.arcLength[before.arc] - before.offset
        search.run(from: [(Int(graph.arcHead[before.arc]), rest)], targets: [graph.tail(ofArc: here.arc)])
        let between = search.pathArcs(to: graph.tail(ofArc: here.arc)) ?? []
        let total = max(search.cost(graph.tail(ofArc: here.arc)) + here.offset, 1)
        var travelled = rest, arcs: [MatchedArc] = []
        // A piece's last arc counts unless the fix lies at its very start (the drive ends
        // at the junction).
        for arc in between + (ends && here.offset <= backwardSlack ? [] : [here.arc]) {
            arcs.append(MatchedArc(arc: arc, entered: then + (time - then) * min(1, travelled / total)))
            travelled += graph.arcLength[arc]
        }
        return arcs
    }
}
