import XunfangPluginKit
import CommunityPolicingContract

/// One hour of the coming day in which a road segment is hot, China time.
struct HotWindow: Sendable {
    /// The segment's end nodes, smaller first ("<a>-<b>").
    let segment: String
    let nodes: (Int64, Int64)
    /// Unix ms; `end` is one hour after `start` and both fall on one China day.
    let start: Int64
    let end: Int64
    /// Day 1 (Monday) to 7 and hour 0 to 23 of `start`.
    let weekday: Int
    let hour: Int

    /// "a-b" with a < b, as the ledger and Situation's warnings name GridModel's segments.
    static func nodes(of segment: String) -> (Int64, Int64)? {
        let ends = segment.split(separator: "-", omittingEmptySubsequences: false)
        guard ends.count == 2, let a = Int64(ends[0]), let b = Int64(ends[1]), a < b else { return nil }
        return (a, b)
    }

    /// Every hot segment in the next occurrence of every hot hour: the hour under way now
    /// counts while it lasts. Segments that are not `<node>-<node>` are left out.
    static func coming(segments: [String], hours: [UInt32], now: Int64) -> [HotWindow] {
        let hourMilliseconds: Int64 = 3_600_000
        // China is a whole number of hours ahead of UTC: its hours start where UTC's do.
        let thisHour = now - ((now % hourMilliseconds) + hourMilliseconds) % hourMilliseconds
        let starts = Set(hours.filter { $0 < 24 }).map { hour -> Int64 in
            let ahead = (Int64(hour) - Int64(ChinaTime.hour(thisHour)) + 24) % 24
            return thisHour + ahead * hourMilliseconds
        }.sorted()
        return starts.flatMap { start in
            segments.compactMap { segment in
                nodes(of: segment).map {
                    HotWindow(segment: segment, nodes: $0, start: start, end: start + hourMilliseconds,
                              weekday: ChinaTime.weekday(start), hour: ChinaTime.hour(start))
                }
            }
        }
    }
}

/// Which members hot windows concern: those who work the hot segment or one that touches it
/// (shares an end node), in a slot that overlaps the window. Built once per ledger; a match
/// looks at the members on the windows' nodes only, never at the whole ledger.
struct AlertMatcher: Sendable {
    let members: [Xunfang_Community_V1_Member]
    /// Member indices by the nodes of their segments, each member once a node.
    private let byNode: [Int64: [Int32]]
    /// Per member and weekday (7 a member), the hours (bit 0 to 23) a slot of theirs overlaps.
    private let hourMasks: [UInt32]

    struct Matches {
        /// Member index → the indices of the windows they are matched to, in window order.
        var windows: [Int: [Int]] = [:]
        /// Members on or next to a hot segment, in their hours or not.
        var onSegments = 0
    }

    init(members: [Xunfang_Community_V1_Member]) {
        self.members = members
        var byNode: [Int64: [Int32]] = [:]
        var masks = [UInt32](repeating: 0, count: members.count * 7)
        for (index, member) in members.enumerated() {
            var nodes = Set<Int64>()
            for segment in member.roadSegments {
                guard let (a, b) = HotWindow.nodes(of: segment) else { continue }
                nodes.insert(a)
                nodes.insert(b)
            }
            for node in nodes { byNode[node, default: []].append(Int32(index)) }
            for slot in member.hours where (1...7).contains(slot.day) && slot.startMinute < slot.endMinute {
                masks[index * 7 + Int(slot.day) - 1] |= Self.hours(from: Int(slot.startMinute), to: Int(slot.endMinute))
            }
        }
        self.byNode = byNode
        hourMasks = masks
    }

    /// The hours (bits 0 to 23) that minutes `from..<to` of a day overlap.
    static func hours(from start: Int, to end: Int) -> UInt32 {
        let first = start / 60, last = min(23, (end - 1) / 60)
        guard first <= last else { return 0 }
        return (UInt32.max >> (31 - UInt32(last))) & ~((UInt32(1) << UInt32(first)) - 1)
    }

    func match(_ windows: [HotWindow]) -> Matches {
        var result = Matches()
        var lastWindow = [Int32](repeating: -1, count: members.count)
        var onSegment = [Bool](repeating: false, count: members.count)
        for (windowIndex, window) in windows.enumerated() {
            let bit = UInt32(1) << UInt32(window.hour)
            for node in [window.nodes.0, window.nodes.1] {
                for member in byNode[node] ?? [] where lastWindow[Int(member)] != Int32(windowIndex) {
                    lastWindow[Int(member)] = Int32(windowIndex)
                    let index = Int(member)
                    if !onSegment[index] {
                        onSegment[index] = true
                        result.onSegments += 1
                    }
                    if hourMasks[index * 7 + window.weekday - 1] & bit != 0 { result.windows[index, default: []].append(windowIndex) }
                }
            }
        }
        return result
    }

    /// The same answer by looking at every member for every window (their segments read
    /// once): the benchmark's baseline and the tests' reference.
    static func scan(_ members: [Xunfang_Community_V1_Member], _ windows: [HotWindow]) -> [Int: [Int]] {
        let nodes = members.map { member in Set(member.roadSegments.compactMap(HotWindow.nodes).flatMap { [$0.0, $0.1] }) }
        var result: [Int: [Int]] = [:]
        for (windowIndex, window) in windows.enumerated() {
            for (index, member) in members.enumerated() where nodes[index].contains(window.nodes.0) || nodes[index].contains(window.nodes.1) {
                let working = member.hours.contains { slot in
                    Int(slot.day) == window.weekday && Int(slot.startMinute) < (window.hour + 1) * 60 && window.hour * 60 < Int(slot.endMinute)
                }
                if working { result[index, default: []].append(windowIndex) }
            }
        }
        return result
    }
}
