import XunfangConfig

/// Plain (non-durable) subscriptions indexed for matching: exact topics by hash, wildcard
/// patterns scanned. Queue-group members are grouped so one member gets each message.
struct RouteTable {
    struct Matches {
        var individual: [SubscriptionRef] = []
        var groups: [String: [SubscriptionRef]] = [:]
    }

    private struct Entry {
        var individual: [SubscriptionRef] = []
        var groups: [String: [SubscriptionRef]] = [:]
        var isEmpty: Bool { individual.isEmpty && groups.isEmpty }

        mutating func add(_ ref: SubscriptionRef, group: String) {
            if group.isEmpty { individual.append(ref) } else { groups[group, default: []].append(ref) }
        }

        mutating func remove(_ ref: SubscriptionRef, group: String) {
            if group.isEmpty {
                individual.removeAll { $0 == ref }
            } else {
                groups[group]?.removeAll { $0 == ref }
                if groups[group]?.isEmpty == true { groups[group] = nil }
            }
        }
    }

    private var exact: [String: Entry] = [:]
    private var wildcard: [(pattern: TopicPattern, entry: Entry)] = []
    /// Cache of the merged matches per concrete topic; cleared on any change.
    private var cache: [String: Matches] = [:]
    var groupCursor: UInt64 = 0
    /// Changes with every add and remove, so resolved routes know when they are stale.
    private(set) var generation: UInt64 = 0

    mutating func add(_ ref: SubscriptionRef, pattern: TopicPattern, queueGroup: String) {
        cache.removeAll(keepingCapacity: true)
        generation &+= 1
        if !pattern.hasWildcards {
            exact[pattern.text, default: Entry()].add(ref, group: queueGroup)
        } else if let index = wildcard.firstIndex(where: { $0.pattern == pattern }) {
            wildcard[index].entry.add(ref, group: queueGroup)
        } else {
            var entry = Entry()
            entry.add(ref, group: queueGroup)
            wildcard.append((pattern, entry))
        }
    }

    mutating func remove(_ ref: SubscriptionRef, pattern: TopicPattern, queueGroup: String) {
        cache.removeAll(keepingCapacity: true)
        generation &+= 1
        if !pattern.hasWildcards {
            exact[pattern.text]?.remove(ref, group: queueGroup)
            if exact[pattern.text]?.isEmpty == true { exact[pattern.text] = nil }
        } else if let index = wildcard.firstIndex(where: { $0.pattern == pattern }) {
            wildcard[index].entry.remove(ref, group: queueGroup)
            if wildcard[index].entry.isEmpty { wildcard.remove(at: index) }
        }
    }

    /// Everything that matches `topic`.
    mutating func matches(for topic: String) -> Matches {
        if let cached = cache[topic] { return cached }
        var matches = Matches()
        if let entry = exact[topic] {
            matches.individual.append(contentsOf: entry.individual)
            matches.groups.merge(entry.groups) { $0 + $1 }
        }
        if !wildcard.isEmpty {
            let tokens = topic.split(separator: ".", omittingEmptySubsequences: false)
            for (pattern, entry) in wildcard where pattern.matches(tokens: tokens) {
                matches.individual.append(contentsOf: entry.individual)
                matches.groups.merge(entry.groups) { $0 + $1 }
            }
        }
        if cache.count > 4_096 { cache.removeAll(keepingCapacity: true) }
        cache[topic] = matches
        return matches
    }
}
