import Foundation
import Synchronization
import XunfangGeo

/// Every unit's track matched to the roads as its fixes come in (fixed-lag, see
/// `OnlineMatch`): the settled arcs are kept with the fixes, so compliance counts the roads
/// driven, not straight lines between noisy fixes. After a restart a unit's open fixes are
/// read back from the store and matched again, so no driven arc is lost.
final class TrackMatching: Sendable {
    struct State {
        var tracks: [String: OnlineMatch] = [:]
        /// The newest fix each track has taken (ms).
        var newest: [String: Int64] = [:]
        /// Each unit's newest kept arc, as (from, to) node ids: a track picked up again after
        /// a restart starts on the arc it had reached, which is not driven twice.
        var lastArc: [String: [Int64]] = [:]
        let search: ShortestPathSearch
    }

    let matcher: MapMatcher
    let lag: Int
    private let state: Mutex<State>

    init(graph: RoadGraph, lag: Int = 8) {
        matcher = MapMatcher(graph: graph)
        self.lag = lag
        state = Mutex(State(search: matcher.makeSearch()))
    }

    /// A settled arc as kept: its ends (OSM node ids and positions) and when it was entered.
    func driven(_ arc: MapMatcher.MatchedArc, callSign: String) -> PatrolStore.DrivenArc {
        let graph = matcher.graph, tail = graph.tail(ofArc: arc.arc), head = Int(graph.arcHead[arc.arc])
        return PatrolStore.DrivenArc(callSign: callSign, entered: Int64((arc.entered * 1_000).rounded()), fromNode: graph.nodeIDs[tail], toNode: graph.nodeIDs[head],
                                     from: graph.coordinates[tail], to: graph.coordinates[head], metres: graph.arcLength[arc.arc])
    }

    /// Takes accepted fixes (each unit's in time order) and keeps the arcs they settle. A unit
    /// seen for the first time since start picks up its stored fixes from its last settled one.
    func take(_ fixes: [(callSign: String, fix: PatrolStore.Fix)], store: PatrolStore, now: Int64) throws {
        let byUnit = Dictionary(grouping: fixes, by: \.callSign)
        let settled = try store.matchProgress(of: byUnit.keys.filter { unit in state.withLock { $0.tracks[unit] == nil } })
        var arcs: [PatrolStore.DrivenArc] = [], progress: [String: Int64] = [:]
        for (callSign, fixes) in byUnit {
            let first = fixes.map(\.fix.at).min() ?? now
            let replay = try settled[callSign].map { try store.fixes(of: callSign, from: max($0.at, now - Terminals.oldest), to: first) } ?? []
            state.withLock { state in
                if state.lastArc[callSign] == nil, let last = settled[callSign]?.lastArc { state.lastArc[callSign] = last }
                var track = state.tracks[callSign] ?? OnlineMatch(lag: lag)
                for fix in replay + fixes.map(\.fix) where fix.at > state.newest[callSign] ?? .min {
                    let matched = track.add(MapMatcher.Fix(time: Double(fix.at) / 1_000, point: GeoPoint(longitude: fix.longitude, latitude: fix.latitude)),
                                            matcher: matcher, search: state.search)
                    arcs += kept(matched, callSign: callSign, state: &state)
                    state.newest[callSign] = fix.at
                }
                state.tracks[callSign] = track
                if let upTo = track.settledUpTo { progress[callSign] = Int64((upTo * 1_000).rounded()) }
            }
        }
        try store.record(driven: arcs, progress: progress)
    }

    /// The settled arcs as kept, less one that repeats the arc before it (only a track
    /// started again does that: a real drive leaves an arc before it comes back to it).
    func kept(_ matched: [MapMatcher.MatchedArc], callSign: String, state: inout State) -> [PatrolStore.DrivenArc] {
        matched.map { driven($0, callSign: callSign) }.filter { arc in
            defer { state.lastArc[callSign] = [arc.fromNode, arc.toNode] }
            return state.lastArc[callSign] != [arc.fromNode, arc.toNode]
        }
    }

    /// Settles the tracks of units with no fix for `quietAfter` (their drive has ended for now).
    func settleQuiet(store: PatrolStore, now: Int64, quietAfter: Int64 = 120_000) throws {
        var arcs: [PatrolStore.DrivenArc] = [], progress: [String: Int64] = [:]
        state.withLock { state in
            for (callSign, newest) in state.newest where now - newest >= quietAfter {
                guard var track = state.tracks.removeValue(forKey: callSign) else { continue }
                arcs += kept(track.finish(matcher: matcher, search: state.search), callSign: callSign, state: &state)
                state.newest[callSign] = nil
                progress[callSign] = newest
            }
        }
        try store.record(driven: arcs, progress: progress)
    }
}
