import Foundation

/// One vehicle's track matched as its fixes arrive (fixed-lag Viterbi): the model keeps
/// the last `lag` moving fixes open and settles the one before them on the likeliest path
/// through all it has seen, so the arcs it hands back are final and come `lag` fixes late.
/// A settled fix anchors the model: the steps still open are scored again from it alone,
/// with the road distances measured when they came in (no search is run twice).
///
/// The same model and joins as `MapMatcher.match`; with no lag limit it gives the same answer.
public struct OnlineMatch: Sendable {
    public let lag: Int
    /// The settled anchor (one candidate) first when `anchored`, then the open steps.
    var steps: [MapMatcher.Step] = []
    /// Per open step, road metres from each candidate of the step before to each of its own.
    var roads: [[[Double]]] = []
    var anchored = false
    public private(set) var unmatched = 0
    public private(set) var breaks = 0
    /// The time of the newest settled fix: fixes after it are not yet in any answer.
    public private(set) var settledUpTo: Double?
    var fixes = 0

    public init(lag: Int = 8) {
        self.lag = max(1, lag)
    }

    var open: Int { steps.count - (anchored ? 1 : 0) }

    /// Takes the next fix (times non-decreasing); the arcs it settles, in order.
    public mutating func add(_ fix: MapMatcher.Fix, matcher: MapMatcher, search: ShortestPathSearch) -> [MapMatcher.MatchedArc] {
        let point = matcher.projection.project(fix.point)
        defer { fixes += 1 }
        if matcher.isStill(point, after: steps.last) { return [] }
        guard let (step, roads) = matcher.step(fix: fixes, time: fix.time, point: point, after: steps.last, search: search) else {
            unmatched += 1
            return []
        }
        if step.starts, !steps.isEmpty { breaks += 1 }
        steps.append(step)
        self.roads.append(roads)
        var settled: [MapMatcher.MatchedArc] = []
        while open > lag { settled += settle(matcher: matcher, search: search) }
        return settled
    }

    /// Settles every open fix (the track has ended, or the unit went quiet).
    public mutating func finish(matcher: MapMatcher, search: ShortestPathSearch) -> [MapMatcher.MatchedArc] {
        var settled: [MapMatcher.MatchedArc] = []
        while open > 0 { settled += settle(matcher: matcher, search: search) }
        return settled
    }

    /// Settles the oldest open step on the best path through its piece as known now, then
    /// makes it the anchor the open steps are scored from.
    mutating func settle(matcher: MapMatcher, search: ShortestPathSearch) -> [MapMatcher.MatchedArc] {
        let index = anchored ? 1 : 0
        let pieceEnd = steps[(index + 1)...].firstIndex(where: \.starts).map { $0 - 1 } ?? steps.count - 1
        let chosen = matcher.choices(Array(steps[...pieceEnd]))[index]
        let step = steps[index], ends = index == steps.count - 1 || steps[index + 1].starts
        let before = step.starts ? nil : (steps[index - 1].candidates[0], steps[index - 1].time)
        let arcs = matcher.arcs(to: step.candidates[chosen], at: step.time, from: before, ends: ends, search: search)
        let anchor = MapMatcher.Step(fix: step.fix, time: step.time, point: step.point, candidates: [step.candidates[chosen]], emission: [0],
                                     score: [0], previous: [-1], starts: true)
        steps.removeFirst(index + 1)
        roads.removeFirst(index + 1)
        steps.insert(anchor, at: 0)
        roads.insert([], at: 0)
        anchored = true
        settledUpTo = step.time
        rescore(from: chosen, matcher: matcher)
        return arcs
    }

    /// The open steps scored again now that the anchor has one candidate (its row of road
    /// metres to the next step is all that is left of the step's).
    mutating func rescore(from chosen: Int, matcher: MapMatcher) {
        guard steps.count > 1 else { return }
        roads[1] = [roads[1][chosen]]
        for index in 1..<steps.count { matcher.forward(&steps[index], after: steps[index - 1], roads: roads[index]) }
    }
}
